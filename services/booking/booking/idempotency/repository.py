from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, update

from booking.db import insert_ignoring_conflicts
from booking.idempotency.models import IdempotencyRecord
from servicekit.repository import Repository


class IdempotencyRepository(Repository[IdempotencyRecord]):
    """Records keyed by (caller, key): ``get((caller, key))``."""

    model = IdempotencyRecord

    async def insert_new(self, caller: str, key: str, request_hash: str, now: datetime) -> bool:
        """Register the key as in progress; False when the caller used it already."""
        statement = insert_ignoring_conflicts(
            self.session,
            IdempotencyRecord,
            caller=caller,
            key=key,
            request_hash=request_hash,
            started_at=now,
        ).returning(IdempotencyRecord.key)
        return (await self.session.execute(statement)).first() is not None

    async def forget_finished_before(self, caller: str, key: str, before: datetime) -> None:
        await self.session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.caller == caller,
                IdempotencyRecord.key == key,
                IdempotencyRecord.finished_at < before,
            )
        )

    async def purge(self, before: datetime) -> None:
        """Forget every finished request older than ``before`` (all callers)."""
        await self.session.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.finished_at < before)
        )

    async def take_over(self, caller: str, key: str, started_at: datetime, now: datetime) -> bool:
        """Restart a request whose first attempt never finished (only one caller wins)."""
        result = await self.session.execute(
            update(IdempotencyRecord)
            .where(
                IdempotencyRecord.caller == caller,
                IdempotencyRecord.key == key,
                IdempotencyRecord.finished_at.is_(None),
                IdempotencyRecord.started_at == started_at,
            )
            .values(started_at=now)
        )
        return bool(getattr(result, "rowcount", 0))

    async def finish(
        self, caller: str, key: str, status_code: int, response: dict[str, Any], now: datetime
    ) -> None:
        await self.session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.caller == caller, IdempotencyRecord.key == key)
            .values(status_code=status_code, response=response, finished_at=now)
        )

    async def abandon(self, caller: str, key: str) -> None:
        await self.session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.caller == caller,
                IdempotencyRecord.key == key,
                IdempotencyRecord.finished_at.is_(None),
            )
        )
