from __future__ import annotations

from datetime import datetime

from sqlalchemy import CursorResult, delete, select, update

from identity.oauth2.models import AuthorizationCode
from servicekit.repository import Repository


class AuthorizationCodeRepository(Repository[AuthorizationCode]):
    model = AuthorizationCode

    async def by_hash(self, code_hash: str) -> AuthorizationCode | None:
        return await self.session.scalar(
            select(AuthorizationCode).where(AuthorizationCode.code_hash == code_hash)
        )

    async def claim(self, code_id: str, now: datetime) -> bool:
        """Mark the code used; False when it already was (a concurrent or repeated use)."""
        result = await self.session.execute(
            update(AuthorizationCode)
            .where(AuthorizationCode.id == code_id, AuthorizationCode.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        assert isinstance(result, CursorResult)
        return result.rowcount == 1

    async def drop_older(self, account_id: str, before: datetime) -> None:
        await self.session.execute(
            delete(AuthorizationCode)
            .where(AuthorizationCode.account_id == account_id)
            .where(AuthorizationCode.created_at < before)
            .execution_options(synchronize_session=False)
        )
