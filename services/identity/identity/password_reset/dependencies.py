from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from identity.accounts.dependencies import PasswordsDep
from identity.accounts.repository import AccountRepository
from identity.audit.dependencies import AuditDep
from identity.clock import ClockDep
from identity.mail.dependencies import AccountMailDep
from identity.password_reset.repository import PasswordResetRepository
from identity.password_reset.service import PasswordResets
from identity.settings import SettingsDep
from identity.tenants.dependencies import TenantServiceDep
from servicekit.dependencies import SessionDep


async def password_resets(
    session: SessionDep,
    tenants: TenantServiceDep,
    passwords: PasswordsDep,
    audit: AuditDep,
    clock: ClockDep,
    mail: AccountMailDep,
    settings: SettingsDep,
) -> PasswordResets:
    return PasswordResets(
        PasswordResetRepository(session),
        AccountRepository(session),
        tenants,
        passwords,
        audit,
        clock,
        mail,
        settings,
    )


PasswordResetsDep = Annotated[PasswordResets, Depends(password_resets)]
