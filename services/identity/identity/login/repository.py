from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from identity.login.models import LoginThrottle


class ThrottleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, key: str) -> LoginThrottle | None:
        return await self.session.get(LoginThrottle, key)

    async def record_failure(self, key: str, now: datetime) -> tuple[int, int]:
        """Count one failure atomically; returns (failures, lockouts) after it."""
        if await self.session.get(LoginThrottle, key) is None:
            try:
                async with self.session.begin_nested():
                    self.session.add(LoginThrottle(key=key, failures=0, lockouts=0, updated_at=now))
            except IntegrityError:
                pass  # a concurrent failure created it first
        row = (
            await self.session.execute(
                update(LoginThrottle)
                .where(LoginThrottle.key == key)
                .values(failures=LoginThrottle.failures + 1, updated_at=now)
                .returning(LoginThrottle.failures, LoginThrottle.lockouts)
                .execution_options(synchronize_session=False)
            )
        ).one()
        return int(row[0]), int(row[1])

    async def lock(self, key: str, until: datetime, now: datetime) -> None:
        await self.session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.key == key)
            .values(
                failures=0,
                lockouts=LoginThrottle.lockouts + 1,
                locked_until=until,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )

    async def reset(self, key: str, now: datetime) -> None:
        await self.session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.key == key)
            .values(failures=0, lockouts=0, locked_until=None, updated_at=now)
            .execution_options(synchronize_session=False)
        )
