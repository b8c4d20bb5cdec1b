from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Float, Select, and_, case, cast, exists, func, or_, select

from booking.bookings.models import Booking, BookingItem, BookingStatus
from booking.db import ignoring_conflicts
from booking.visits.models import Visit
from servicekit.repository import Repository


@dataclass(frozen=True)
class Outcome:
    """An appointment and its day at the office (no check-in: the visit's fields are None)."""

    starts_at: datetime
    ends_at: datetime
    walk_in: bool
    checked_in_at: datetime | None
    called_at: datetime | None
    completed_at: datetime | None
    resolved: bool | None
    rating: int | None


@dataclass(frozen=True)
class Spread:
    """Values of one kind (in minutes, or ratings): how many, their sum, and the nearest-rank
    median and 90th percentile (None without values), unrounded."""

    count: int
    total: float
    p50: float | None
    p90: float | None


@dataclass(frozen=True)
class Totals:
    """What the KPIs of a period are made of, summed over its appointments."""

    appointments: int
    ended: int
    checked_in: int
    walk_ins: int
    no_shows: int
    completed: int
    resolved: int
    waiting: Spread
    processing: Spread
    ratings: Spread
    saved_minutes: float


@dataclass(frozen=True)
class Period:
    """Some offices of one time zone and the UTC bounds of the period's local days there."""

    office_ids: Sequence[uuid.UUID]
    start: datetime
    end: datetime


def _minutes(later: Any, earlier: Any) -> ColumnElement[Any]:
    return cast(func.extract("epoch", later - earlier), Float) / 60.0


_CALL_ORDER = (Booking.starts_at, Visit.checked_in_at, Visit.booking_id)
"""By the appointment's start, then by check-in: an early arrival does not overtake an
earlier appointment."""


def _of_day(office_id: uuid.UUID, start: datetime, end: datetime) -> Select[Visit, Booking]:
    """The visits (with their bookings) of an office's confirmed appointments in a day."""
    return (
        select(Visit, Booking)
        .join(Booking, Booking.id == Visit.booking_id)
        .where(
            Visit.office_id == office_id,
            Booking.starts_at >= start,
            Booking.starts_at < end,
            Booking.status == BookingStatus.CONFIRMED,
        )
    )


class VisitRepository(Repository[Visit]):
    """Visits, keyed by their booking's id."""

    model = Visit

    async def check_in(self, booking: Booking, now: datetime) -> Visit:
        """The booking's visit, created now unless it exists (a repeated check-in, or two at
        once: the primary key keeps one)."""
        dialect = self.session.get_bind().dialect.name
        await self.session.execute(
            ignoring_conflicts(dialect, Visit).values(
                booking_id=booking.id, office_id=booking.office_id, checked_in_at=now
            )
        )
        visit = await self.session.get(Visit, booking.id, populate_existing=True)
        assert visit is not None  # inserted or already there, in this transaction
        return visit

    async def open_of_day(
        self, office_id: uuid.UUID, start: datetime, end: datetime
    ) -> list[tuple[Visit, Booking]]:
        """The office's visits of a day not completed yet, in call order."""
        rows = await self.session.execute(
            _of_day(office_id, start, end)
            .where(Visit.completed_at.is_(None))
            .order_by(*_CALL_ORDER)
        )
        return [(visit, booking) for visit, booking in rows]

    async def next_waiting(
        self, office_id: uuid.UUID, start: datetime, end: datetime
    ) -> tuple[Visit, Booking] | None:
        """The first waiting visit of the day with its booking, the visit locked for this
        transaction.

        PostgreSQL skips visits another transaction has locked (a clerk calling at the same
        moment gets the next one); SQLite runs one writing transaction at a time.
        """
        rows = await self.session.execute(
            _of_day(office_id, start, end)
            .where(Visit.called_at.is_(None))
            .order_by(*_CALL_ORDER)
            .limit(1)
            .with_for_update(of=Visit, skip_locked=True)
        )
        row = rows.first()
        return None if row is None else (row[0], row[1])

    async def latest_calls(
        self, office_id: uuid.UUID, start: datetime, end: datetime, limit: int
    ) -> list[tuple[Visit, Booking]]:
        """The office's latest calls to a counter for appointments of ``[start, end)``."""
        rows = await self.session.execute(
            _of_day(office_id, start, end)
            .where(Visit.called_at.is_not(None))
            .order_by(Visit.called_at.desc())
            .limit(limit)
        )
        return [(visit, booking) for visit, booking in rows]

    async def of_period(
        self,
        tenant: str,
        office_id: uuid.UUID,
        start: datetime,
        end: datetime,
        service_id: uuid.UUID | None = None,
    ) -> list[Outcome]:
        """Confirmed appointments of an office starting in ``[start, end)`` (those including
        ``service_id``, if given) and how their day went: only the columns the KPIs need (a
        year of a large office is many rows)."""
        query = (
            select(
                Booking.starts_at,
                Booking.ends_at,
                Booking.walk_in,
                Visit.checked_in_at,
                Visit.called_at,
                Visit.completed_at,
                Visit.resolved,
                Visit.rating,
            )
            .outerjoin(Visit, Visit.booking_id == Booking.id)
            .where(
                Booking.tenant == tenant,
                Booking.office_id == office_id,
                Booking.status == BookingStatus.CONFIRMED,
                Booking.starts_at >= start,
                Booking.starts_at < end,
            )
        )
        if service_id is not None:
            query = query.where(
                exists().where(
                    BookingItem.booking_id == Booking.id, BookingItem.service_id == service_id
                )
            )
        return [Outcome(*row) for row in await self.session.execute(query)]

    async def totals(
        self,
        tenant: str,
        periods: Sequence[Period],
        now: datetime,
        service_id: uuid.UUID | None = None,
    ) -> Totals | None:
        """The KPIs' totals over the confirmed appointments of ``periods`` (those including
        ``service_id``, if given), aggregated by PostgreSQL in one statement: a year of a
        district's offices is a million rows, too many to carry to Python (see bench/scale).
        None on other databases, whose callers aggregate :meth:`of_period` themselves."""
        if self.session.get_bind().dialect.name != "postgresql":
            return None
        checked = Visit.checked_in_at.is_not(None)
        called = checked & Visit.called_at.is_not(None)
        done = called & Visit.completed_at.is_not(None)
        appointment = Booking.walk_in.is_(False)
        ended = appointment & (Booking.ends_at <= now)
        since = func.greatest(Visit.checked_in_at, Booking.starts_at)
        # NULL where the value does not exist: count, sum and percentile_disc skip NULLs.
        waiting = case((called, func.greatest(_minutes(Visit.called_at, since), 0.0)))
        processing = case((done, _minutes(Visit.completed_at, Visit.called_at)))
        rating = case((checked, cast(Visit.rating, Float)))
        saved = case(
            (
                done,
                func.greatest(
                    _minutes(Booking.ends_at, Booking.starts_at)
                    - _minutes(Visit.completed_at, Visit.called_at),
                    0.0,
                ),
            )
        )

        def spread(value: ColumnElement[float]) -> list[ColumnElement[Any]]:
            return [
                func.count(value),
                func.coalesce(func.sum(value), 0.0),
                func.percentile_disc(0.5).within_group(value),
                func.percentile_disc(0.9).within_group(value),
            ]

        query = (
            select(
                func.count().filter(appointment),
                func.count().filter(ended),
                func.count().filter(appointment & checked),
                func.count().filter(Booking.walk_in.is_(True)),
                func.count().filter(ended & Visit.checked_in_at.is_(None)),
                func.count().filter(done),
                func.count().filter(done & Visit.resolved.is_(True)),
                *spread(waiting),
                *spread(processing),
                *spread(rating),
                func.coalesce(func.sum(saved), 0.0),
            )
            .select_from(Booking)
            .outerjoin(Visit, Visit.booking_id == Booking.id)
            .where(
                Booking.tenant == tenant,
                Booking.status == BookingStatus.CONFIRMED,
                or_(
                    *(
                        and_(
                            Booking.office_id.in_(list(period.office_ids)),
                            Booking.starts_at >= period.start,
                            Booking.starts_at < period.end,
                        )
                        for period in periods
                    )
                ),
            )
        )
        if service_id is not None:
            query = query.where(
                exists().where(
                    BookingItem.booking_id == Booking.id, BookingItem.service_id == service_id
                )
            )
        row: list[Any] = list((await self.session.execute(query)).one())
        appointments, ended_, checked_in, walk_ins, no_shows, completed, resolved = (
            int(value) for value in row[:7]
        )
        return Totals(
            appointments=appointments,
            ended=ended_,
            checked_in=checked_in,
            walk_ins=walk_ins,
            no_shows=no_shows,
            completed=completed,
            resolved=resolved,
            waiting=Spread(int(row[7]), float(row[8]), row[9], row[10]),
            processing=Spread(int(row[11]), float(row[12]), row[13], row[14]),
            ratings=Spread(int(row[15]), float(row[16]), row[17], row[18]),
            saved_minutes=float(row[19]),
        )
