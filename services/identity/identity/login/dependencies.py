from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from identity.accounts.dependencies import PasswordsDep
from identity.accounts.repository import AccountRepository
from identity.audit.dependencies import AuditDep
from identity.clock import ClockDep
from identity.login.external import ExternalProviders, ExternalSignIn
from identity.login.repository import ExternalIdentityRepository, ThrottleRepository
from identity.login.service import LoginService
from identity.settings import SettingsDep
from identity.tenants.dependencies import TenantServiceDep
from servicekit.dependencies import SessionDep, app_state

ExternalProvidersDep = Annotated[
    ExternalProviders, Depends(app_state("external_providers", ExternalProviders))
]


async def login_service(
    session: SessionDep,
    passwords: PasswordsDep,
    audit: AuditDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> LoginService:
    return LoginService(
        AccountRepository(session), ThrottleRepository(session), passwords, audit, clock, settings
    )


LoginServiceDep = Annotated[LoginService, Depends(login_service)]


async def external_sign_in(
    session: SessionDep,
    providers: ExternalProvidersDep,
    tenants: TenantServiceDep,
    passwords: PasswordsDep,
    audit: AuditDep,
    clock: ClockDep,
) -> ExternalSignIn:
    return ExternalSignIn(
        AccountRepository(session),
        ExternalIdentityRepository(session),
        providers,
        tenants,
        passwords,
        audit,
        clock,
    )


ExternalSignInDep = Annotated[ExternalSignIn, Depends(external_sign_in)]
