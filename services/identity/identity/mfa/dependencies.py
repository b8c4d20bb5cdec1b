from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from identity.accounts.dependencies import AccountServiceDep, PasswordsDep
from identity.accounts.repository import AccountRepository
from identity.audit.dependencies import AuditDep
from identity.clock import ClockDep
from identity.keys.dependencies import KeyCipherDep
from identity.login.dependencies import LoginServiceDep
from identity.mfa.repository import (
    ChallengeRepository,
    EnrolmentRepository,
    RecoveryCodeRepository,
)
from identity.mfa.service import SecondFactor
from identity.settings import SettingsDep
from servicekit.dependencies import SessionDep


async def second_factor(
    session: SessionDep,
    account_service: AccountServiceDep,
    login: LoginServiceDep,
    passwords: PasswordsDep,
    cipher: KeyCipherDep,
    audit: AuditDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> SecondFactor:
    return SecondFactor(
        EnrolmentRepository(session),
        RecoveryCodeRepository(session),
        ChallengeRepository(session),
        AccountRepository(session),
        account_service,
        login,
        passwords,
        cipher,
        audit,
        clock,
        settings,
    )


SecondFactorDep = Annotated[SecondFactor, Depends(second_factor)]
