from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from identity.login.models import ExternalIdentity, LoginThrottle
from servicekit.repository import Repository


class ThrottleRepository(Repository[LoginThrottle]):
    model = LoginThrottle

    async def record_failure(self, key: str, now: datetime) -> tuple[int, int]:
        """Count one failure atomically; returns (failures, lockouts) after it."""
        if await self.get(key) is None:
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


class ExternalIdentityRepository(Repository[ExternalIdentity]):
    model = ExternalIdentity

    async def of(self, provider: str, subject: str, tenant_ags: str) -> ExternalIdentity | None:
        """The link of the provider's ``subject`` to an account of the municipality."""
        return await self.get((provider, subject, tenant_ags))
