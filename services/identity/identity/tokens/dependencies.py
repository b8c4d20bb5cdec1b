from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from identity.accounts.repository import AccountRepository
from identity.audit.dependencies import AuditDep
from identity.clock import ClockDep
from identity.keys.dependencies import KeyServiceDep
from identity.settings import SettingsDep
from identity.tokens.repository import RefreshTokenRepository
from identity.tokens.service import TokenService
from servicekit.dependencies import SessionDep


async def token_service(
    session: SessionDep,
    keys: KeyServiceDep,
    audit: AuditDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> TokenService:
    return TokenService(
        RefreshTokenRepository(session), AccountRepository(session), keys, audit, clock, settings
    )


TokenServiceDep = Annotated[TokenService, Depends(token_service)]
