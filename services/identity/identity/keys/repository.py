from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from identity.keys.models import KeyState, SigningKey
from servicekit.repository import Repository


class SigningKeyRepository(Repository[SigningKey]):
    model = SigningKey

    async def active(self) -> SigningKey | None:
        return await self.session.scalar(
            select(SigningKey).where(SigningKey.state == KeyState.ACTIVE)
        )

    async def published(self) -> Sequence[SigningKey]:
        result = await self.session.scalars(
            select(SigningKey)
            .where(SigningKey.state != KeyState.RETIRED)
            .order_by(SigningKey.created_at.desc(), SigningKey.kid)
        )
        return result.all()

    async def list(self) -> Sequence[SigningKey]:
        result = await self.session.scalars(
            select(SigningKey).order_by(SigningKey.created_at.desc(), SigningKey.kid)
        )
        return result.all()

    async def add_if_possible(self, key: SigningKey) -> bool:
        """Insert ``key``; False when the one-active-key rule refused it (a race was lost)."""
        try:
            async with self.session.begin_nested():
                self.session.add(key)
        except IntegrityError:
            return False
        return True
