from __future__ import annotations

from datetime import datetime

from sqlalchemy import CursorResult, select, update

from identity.password_reset.models import PasswordReset
from servicekit.repository import Repository


class PasswordResetRepository(Repository[PasswordReset]):
    model = PasswordReset

    async def by_hash(self, token_hash: str) -> PasswordReset | None:
        return await self.session.scalar(
            select(PasswordReset).where(PasswordReset.token_hash == token_hash)
        )

    async def latest_created_at(self, account_id: str) -> datetime | None:
        """When the account's last reset code was made, if ever."""
        return await self.session.scalar(
            select(PasswordReset.created_at)
            .where(PasswordReset.account_id == account_id)
            .order_by(PasswordReset.created_at.desc())
            .limit(1)
        )

    async def claim(self, reset_id: str, now: datetime) -> bool:
        """Mark the code used; False when it was used (at the same time, too) or expired."""
        result = await self.session.execute(
            update(PasswordReset)
            .where(
                PasswordReset.id == reset_id,
                PasswordReset.used_at.is_(None),
                PasswordReset.expires_at > now,
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        assert isinstance(result, CursorResult)
        return result.rowcount == 1

    async def end_all_of(self, account_id: str, now: datetime) -> None:
        """No other code of the account sets a password any more."""
        await self.session.execute(
            update(PasswordReset)
            .where(PasswordReset.account_id == account_id, PasswordReset.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
