from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from identity.accounts.repository import AccountRepository
from identity.audit.dependencies import AuditDep
from identity.clients.repository import ClientRepository
from identity.clock import ClockDep
from identity.oauth2.repository import AuthorizationCodeRepository
from identity.oauth2.service import AuthorizationService
from identity.tokens.dependencies import TokenServiceDep
from servicekit.dependencies import SessionDep


async def authorization_service(
    session: SessionDep, tokens: TokenServiceDep, audit: AuditDep, clock: ClockDep
) -> AuthorizationService:
    return AuthorizationService(
        ClientRepository(session),
        AuthorizationCodeRepository(session),
        AccountRepository(session),
        tokens,
        audit,
        clock,
    )


AuthorizationServiceDep = Annotated[AuthorizationService, Depends(authorization_service)]
