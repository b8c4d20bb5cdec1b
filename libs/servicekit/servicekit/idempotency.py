"""``Idempotency-Key`` for requests that create something, on a service's own table.

A service maps :class:`IdempotencyColumns` on its declarative base (table
``idempotency_records``) and holds one :class:`IdempotencyStore` on it. Per request:

1. :meth:`IdempotencyStore.begin` registers ``(caller, key)`` in a short transaction of its
   own before the work starts, so a concurrent duplicate sees it at once (409) instead of
   queueing behind the first. It answers the stored response when the caller made this request
   already, 422 when the caller used the key for another request (its ``request_hash``).
2. :meth:`IdempotencyStore.finish` stores the response in the request's own transaction, so it
   exists exactly when the work was committed.
3. :meth:`IdempotencyStore.abandon` forgets the key of a request that failed, so it may be
   retried.

Keys are scoped to the caller: ``caller`` is who asks (an account, or for a caller without
one a hash of what only they hold), so the same key from somebody else is another record and
never sees the first caller's answer. The client's key is stored only as its SHA-256.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Integer, String, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from servicekit.db import Database, UTCDateTime, insert_ignoring_conflicts, utcnow
from servicekit.problems import Conflict, ValidationFailed

REPLAY_HEADER = "Idempotent-Replayed"
"""Set to ``true`` on a replayed response."""
KEY_PATTERN = r"^[A-Za-z0-9_.:-]{16,200}$"
"""What an ``Idempotency-Key`` header may hold (e.g. a UUID)."""
# Old records are purged now and then by the requests themselves: no job is needed.
PURGE_PROBABILITY = 0.01


class IdempotencyKeyReused(ValidationFailed):
    type_slug = "idempotency-key-reused"
    title = "This Idempotency-Key was used for a different request"


class IdempotentRequestInProgress(Conflict):
    type_slug = "idempotent-request-in-progress"
    title = "A request with this Idempotency-Key is still being processed"


class IdempotencyColumns:
    """The first response to a request made with an ``Idempotency-Key``, per caller and key."""

    __tablename__ = "idempotency_records"

    if TYPE_CHECKING:  # the declarative Base of the mapping class provides it

        def __init__(self, **values: Any) -> None: ...

    caller: Mapped[str] = mapped_column(String(250), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[dict[str, object] | None] = mapped_column(JSON)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: dict[str, Any]


def key_hash(key: str) -> str:
    """How a client's key is stored."""
    return hashlib.sha256(key.encode()).hexdigest()


def caller_scope(*parts: str) -> str:
    """A caller's scope from what identifies them (e.g. ``"account", tenant, subject``), or
    from a secret only they hold (hashed here, so the table does not reveal it)."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


class IdempotencyStore:
    """The records of one service's table (``record``: its mapping of the columns)."""

    def __init__(
        self,
        database: Database,
        record: type[IdempotencyColumns],
        *,
        ttl: timedelta,
        stale_after: timedelta,
    ) -> None:
        self.database = database
        self.record = record
        self.ttl = ttl
        self.stale_after = stale_after

    async def begin(self, caller: str, key: str, request_hash: str) -> Replay | None:
        """None when this request should run (``key`` as :func:`key_hash` gives it); the
        stored response when the caller made it already."""
        record = self.record
        async with self.database.sessionmaker() as session, session.begin():
            now = utcnow()
            await session.execute(
                delete(record).where(
                    record.caller == caller,
                    record.key == key,
                    record.finished_at < now - self.ttl,
                )
            )
            if random.random() < PURGE_PROBABILITY:
                await session.execute(delete(record).where(record.finished_at < now - self.ttl))
            inserted = await session.execute(
                insert_ignoring_conflicts(session, record)
                .values(caller=caller, key=key, request_hash=request_hash, started_at=now)
                .returning(record.key)
            )
            if inserted.first() is not None:
                return None
            found = (
                await session.scalars(
                    select(record).where(record.caller == caller, record.key == key)
                )
            ).one_or_none()
            if found is None:
                raise IdempotentRequestInProgress("Retry in a moment.")
            if found.request_hash != request_hash:
                raise IdempotencyKeyReused(
                    "Use a new Idempotency-Key for a request with another body or target."
                )
            if found.finished_at is not None and found.status_code is not None:
                return Replay(status_code=found.status_code, body=dict(found.response or {}))
            if found.started_at <= now - self.stale_after:
                taken = await session.execute(
                    update(record)
                    .where(
                        record.caller == caller,
                        record.key == key,
                        record.finished_at.is_(None),
                        record.started_at == found.started_at,
                    )
                    .values(started_at=now)
                )
                if getattr(taken, "rowcount", 0):  # only one retry takes a stale request over
                    return None
            raise IdempotentRequestInProgress("The first request with this key is still running.")

    async def finish(
        self,
        session: AsyncSession,
        caller: str,
        key: str,
        status_code: int,
        body: dict[str, Any],
    ) -> None:
        """Store the response in the request's own transaction (``session``)."""
        record = self.record
        await session.execute(
            update(record)
            .where(record.caller == caller, record.key == key)
            .values(status_code=status_code, response=body, finished_at=utcnow())
        )

    async def abandon(self, caller: str, key: str) -> None:
        """Forget the key of a request that failed (end the request's transaction first)."""
        record = self.record
        async with self.database.sessionmaker() as session, session.begin():
            await session.execute(
                delete(record).where(
                    record.caller == caller, record.key == key, record.finished_at.is_(None)
                )
            )
