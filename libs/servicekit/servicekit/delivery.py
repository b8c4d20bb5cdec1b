"""Rows that are delivered somewhere until it takes them: at least once, with growing pauses.

The bookkeeping an outbox needs, whatever it sends (events to webhooks, mails to a relay):
a table whose rows mix in :class:`DeliveryColumns`, and a loop that

1. claims the due rows with :func:`claim_due` (committed at once: another replica's claim
   then finds them taken and skips them, so each attempt is made by one sender),
2. reads the rows it claimed (``where(model.claim == claim)``) and tries each,
3. records each outcome with :func:`record_attempt`: delivered, or the error and the next
   attempt after :func:`pause_after`; only the claimant's record counts.

A row whose claim ran out (its sender died) is due again. Nothing gives up: a row is tried
until it is delivered, and an operator sees the ones on their way (their attempts and last
error) and can make them due now with :func:`make_all_due`. The claim is an UPDATE with a
claim token whose rows a ``SELECT ... FOR UPDATE SKIP LOCKED`` picks: on PostgreSQL another
replica's claim in progress is skipped rather than waited for; SQLite (which has no row
locks, and serialises writers) reads it as a plain SELECT.

A table with a life of its own (the mail outbox: pending, sent, failed) holds the lease
columns of :class:`Leased` without mixing in :class:`DeliveryColumns`, and passes its own
``pending`` condition to :func:`claim_due` and :func:`make_all_due`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar, Protocol

from sqlalchemy import BigInteger, ColumnElement, Index, Integer, String, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from servicekit.db import UTCDateTime

logger = logging.getLogger(__name__)

TIDY_EVERY_S = 3600.0
"""How often a sender's loop erases what was finished long ago."""

RETRY_PAUSES_S: tuple[float, ...] = (1, 5, 30, 120, 600, 1800, 3600)
"""The pause after the first, second, ... failed attempt; the last one repeats."""
LAST_ERROR_CHARS = 200


class Leased(Protocol):
    """The columns :func:`claim_due` leases a row by (class-level: the functions take the
    mapped class, whose columns build the statements)."""

    id: ClassVar[Mapped[int]]
    next_attempt_at: ClassVar[Mapped[datetime]]
    claim: ClassVar[Mapped[str | None]]
    claimed_until: ClassVar[Mapped[datetime | None]]


class DeliveryColumns:
    """The columns of a row to deliver: ``id``, its attempts, the next one, the claim of the
    sender trying it, when it was delivered and why the last attempt failed; and the index
    ``ix_<table>_due`` that finds the due rows. Mix into the mapped class (with its
    ``__tablename__``)."""

    __tablename__: str

    @declared_attr.directive
    @classmethod
    def __table_args__(cls) -> tuple[Any, ...]:
        return (Index(f"ix_{cls.__tablename__}_due", "delivered_at", "next_attempt_at"),)

    # First in the table, before the columns of the class that mixes this in.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
        sort_order=-1,
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claim: Mapped[str | None] = mapped_column(String(32), default=None)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_error: Mapped[str | None] = mapped_column(String(LAST_ERROR_CHARS), default=None)


def pause_after(attempts: int, pauses_s: Sequence[float] = RETRY_PAUSES_S) -> float:
    """The pause before the next attempt, after ``attempts`` (1, 2, ...) failed ones."""
    return pauses_s[min(attempts, len(pauses_s)) - 1]


def _pending_or_undelivered(
    model: type[Leased], pending: ColumnElement[bool] | None
) -> ColumnElement[bool]:
    if pending is not None:
        return pending
    if not issubclass(model, DeliveryColumns):
        raise TypeError(f"{model.__name__} has no delivered_at: say which rows are pending")
    return model.delivered_at.is_(None)


async def claim_due(
    session: AsyncSession,
    model: type[Leased],
    *,
    now: datetime,
    batch: int,
    claim_s: float,
    pending: ColumnElement[bool] | None = None,
    order_by: Sequence[Any] = (),
) -> str:
    """Claim up to ``batch`` rows of ``model`` that are due at ``now`` for ``claim_s``, and
    commit; the claim, to read them by (``model.claim == claim``). A row is pending while
    ``pending`` holds (by default: not delivered); the first ``batch`` by ``order_by``, then
    the lowest ids, are claimed."""
    pending = _pending_or_undelivered(model, pending)
    free = or_(model.claimed_until.is_(None), model.claimed_until < now)
    claim = uuid.uuid4().hex
    due = (
        select(model.id)
        .where(pending, model.next_attempt_at <= now, free)
        .order_by(*order_by, model.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    # `free` again in the UPDATE: a row another sender claimed since the SELECT stays its.
    await session.execute(
        update(model)
        .where(model.id.in_(due.scalar_subquery()), free)
        .values(claim=claim, claimed_until=now + timedelta(seconds=claim_s))
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    return claim


RELEASED: dict[str, Any] = {"claim": None, "claimed_until": None}
"""The values that end a claim, with the outcome of the attempt it was for."""


async def record_claimed(
    session: AsyncSession,
    model: type[Leased],
    ids: Sequence[int],
    claim: str | None,
    values: dict[str, Any],
) -> None:
    """Set ``values`` (not committed) on the rows ``ids`` that ``claim`` still holds: a row
    whose claim ran out and another sender took is that sender's to record."""
    await session.execute(
        update(model)
        .where(model.id.in_(ids), model.claim == claim)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


async def record_attempt(
    session: AsyncSession,
    model: type[DeliveryColumns],
    row: DeliveryColumns,
    error: str | None,
    *,
    now: datetime,
    pauses_s: Sequence[float] = RETRY_PAUSES_S,
) -> int:
    """Record in ``session`` (not committed) how the attempt at the claimed ``row`` went:
    delivered (``error`` None), or why not and when to try next; its claim is released. How
    many attempts the row has had."""
    attempts = row.attempts + 1
    values: dict[str, Any] = RELEASED | {"attempts": attempts}
    if error is None:
        values["delivered_at"] = now
    else:
        values |= {
            "next_attempt_at": now + timedelta(seconds=pause_after(attempts, pauses_s)),
            "last_error": error[:LAST_ERROR_CHARS],
        }
    await record_claimed(session, model, [row.id], row.claim, values)
    return attempts


async def make_all_due(
    session: AsyncSession,
    model: type[Leased],
    now: datetime,
    *,
    pending: ColumnElement[bool] | None = None,
    **values: Any,
) -> None:
    """Make every row of ``model`` for which ``pending`` holds (by default: undelivered) due
    at ``now`` and free of claims, with ``values`` besides (in ``session``, not committed):
    for an operator who mended a receiver."""
    pending = _pending_or_undelivered(model, pending)
    await session.execute(
        update(model)
        .where(pending)
        .values(next_attempt_at=now, **RELEASED, **values)
        .execution_options(synchronize_session=False)
    )


async def run_rounds(
    deliver: Callable[[], Awaitable[object]],
    tidy: Callable[[], Awaitable[object]],
    interval_s: float,
    *,
    what: str,
) -> None:
    """A sender's background loop: ``deliver`` what is due every ``interval_s``, and ``tidy``
    (erase what was finished long ago) once every :data:`TIDY_EVERY_S`, until cancelled. A
    failed round is logged and the next one tries again: the loop must not die."""
    tidied_at: float | None = None
    while True:
        try:
            await deliver()
            if tidied_at is None or time.monotonic() - tidied_at >= TIDY_EVERY_S:
                tidied_at = time.monotonic()
                await tidy()
        except Exception:
            logger.exception("%s failed", what)
        await asyncio.sleep(interval_s)
