from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from identity.accounts.passwords import Passwords
from identity.accounts.repository import AccountRepository, EmailChangeRepository
from identity.accounts.service import AccountService
from identity.audit.dependencies import AuditDep
from identity.clock import ClockDep
from identity.mail.dependencies import AccountMailDep
from identity.password_reset.repository import PasswordResetRepository
from identity.settings import SettingsDep
from identity.tenants.dependencies import TenantServiceDep
from servicekit.dependencies import OutboxDep, SessionDep, app_state

PasswordsDep = Annotated[Passwords, Depends(app_state("passwords", Passwords))]


async def account_service(
    session: SessionDep,
    tenants: TenantServiceDep,
    passwords: PasswordsDep,
    audit: AuditDep,
    clock: ClockDep,
    mail: AccountMailDep,
    outbox: OutboxDep,
    settings: SettingsDep,
) -> AccountService:
    return AccountService(
        AccountRepository(session),
        tenants,
        passwords,
        audit,
        clock,
        mail,
        outbox,
        EmailChangeRepository(session),
        PasswordResetRepository(session),
        settings,
    )


AccountServiceDep = Annotated[AccountService, Depends(account_service)]
