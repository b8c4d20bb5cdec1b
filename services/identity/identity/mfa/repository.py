from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import CursorResult, delete, func, or_, select, update

from identity.mfa.models import MfaChallenge, MfaEnrolment, MfaRecoveryCode
from servicekit.repository import Repository


def _one_row(result: object) -> bool:
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


class EnrolmentRepository(Repository[MfaEnrolment]):
    model = MfaEnrolment

    async def claim_step(self, account_id: str, step: int) -> bool:
        """Record ``step`` as used; False when it, or a later one, already was (a replay)."""
        result = await self.session.execute(
            update(MfaEnrolment)
            .where(
                MfaEnrolment.account_id == account_id,
                or_(MfaEnrolment.last_used_step.is_(None), MfaEnrolment.last_used_step < step),
            )
            .values(last_used_step=step)
            .execution_options(synchronize_session=False)
        )
        return _one_row(result)

    async def confirm(self, account_id: str, step: int, now: datetime) -> bool:
        """Confirm a pending enrolment with the step of its first code; False when it was not
        pending any more (confirmed concurrently)."""
        result = await self.session.execute(
            update(MfaEnrolment)
            .where(MfaEnrolment.account_id == account_id, MfaEnrolment.confirmed_at.is_(None))
            .values(confirmed_at=now, last_used_step=step)
            .execution_options(synchronize_session=False)
        )
        return _one_row(result)

    async def forget(self, account_id: str) -> bool:
        """Remove the account's second factor, its recovery codes and open challenges;
        False when it had no enrolment."""
        await self.session.execute(
            delete(MfaRecoveryCode).where(MfaRecoveryCode.account_id == account_id)
        )
        await self.session.execute(
            delete(MfaChallenge).where(MfaChallenge.account_id == account_id)
        )
        result = await self.session.execute(
            delete(MfaEnrolment).where(MfaEnrolment.account_id == account_id)
        )
        return _one_row(result)


class RecoveryCodeRepository(Repository[MfaRecoveryCode]):
    model = MfaRecoveryCode

    async def unused_of(self, account_id: str) -> Sequence[MfaRecoveryCode]:
        result = await self.session.scalars(
            select(MfaRecoveryCode)
            .where(MfaRecoveryCode.account_id == account_id, MfaRecoveryCode.used_at.is_(None))
            .order_by(MfaRecoveryCode.id)
        )
        return result.all()

    async def count_unused(self, account_id: str) -> int:
        count = await self.session.scalar(
            select(func.count())
            .select_from(MfaRecoveryCode)
            .where(MfaRecoveryCode.account_id == account_id, MfaRecoveryCode.used_at.is_(None))
        )
        return int(count or 0)

    async def claim(self, code_id: str, now: datetime) -> bool:
        """Use the code up; False when it already was (a concurrent use)."""
        result = await self.session.execute(
            update(MfaRecoveryCode)
            .where(MfaRecoveryCode.id == code_id, MfaRecoveryCode.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        return _one_row(result)

    async def replace(self, account_id: str, codes: Sequence[MfaRecoveryCode]) -> None:
        await self.session.execute(
            delete(MfaRecoveryCode).where(MfaRecoveryCode.account_id == account_id)
        )
        await self.add_all(codes)


class ChallengeRepository(Repository[MfaChallenge]):
    model = MfaChallenge

    async def by_hash(self, token_hash: str) -> MfaChallenge | None:
        return await self.session.scalar(
            select(MfaChallenge).where(MfaChallenge.token_hash == token_hash)
        )

    async def claim(self, challenge_id: str, now: datetime) -> bool:
        """Use the challenge up; False when it already was (a concurrent completion)."""
        result = await self.session.execute(
            update(MfaChallenge)
            .where(MfaChallenge.id == challenge_id, MfaChallenge.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        return _one_row(result)

    async def drop_expired(self, account_id: str, now: datetime) -> None:
        """An account's challenges that ran out are of no use to anyone: gone."""
        await self.session.execute(
            delete(MfaChallenge).where(
                MfaChallenge.account_id == account_id, MfaChallenge.expires_at <= now
            )
        )
