from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from identity.password_reset.models import PasswordReset
from servicekit.repository import SingleUseRepository


class PasswordResetRepository(SingleUseRepository[PasswordReset]):
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
