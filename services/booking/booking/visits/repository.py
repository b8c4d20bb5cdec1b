from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)

from booking.bookings.models import Booking, BookingItem, BookingStatus
from booking.db import Base, ignoring_conflicts
from booking.offices.models import Office
from booking.visits.models import EVERY, KpiDay, KpiWatermark, Visit
from servicekit.repository import Repository, SessionRepository


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
    mode: str = "in_person"


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


@dataclass(frozen=True)
class Placed:
    """An appointment's outcome with the booking and office it belongs to."""

    booking_id: uuid.UUID
    office_id: uuid.UUID
    outcome: Outcome


def _in_periods(tenant: str, periods: Sequence[Period]) -> list[ColumnElement[bool]]:
    return [
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
    ]


_KPI_DAYS = Base.metadata.tables[KpiDay.__tablename__]


class KpiDayRepository(SessionRepository):
    """The KPI rollup (:class:`KpiDay`, :class:`KpiWatermark`) and the raw outcomes it is
    made of."""

    async def tenants(self) -> Sequence[str]:
        return (await self.session.scalars(select(Office.tenant).distinct())).all()

    async def zones(self, tenant: str) -> dict[str, list[uuid.UUID]]:
        """The tenant's offices by time zone."""
        zones: dict[str, list[uuid.UUID]] = {}
        rows = await self.session.execute(
            select(Office.time_zone, Office.id).where(Office.tenant == tenant).order_by(Office.id)
        )
        for zone, office_id in rows:
            zones.setdefault(zone, []).append(office_id)
        return zones

    async def outcomes(
        self, tenant: str, periods: Sequence[Period], service_id: uuid.UUID | None = None
    ) -> list[Placed]:
        """The confirmed appointments of ``periods`` (those including ``service_id``, if
        given) and how their day went: only the columns the KPIs need."""
        query = (
            select(
                Booking.id,
                Booking.office_id,
                Booking.starts_at,
                Booking.ends_at,
                Booking.walk_in,
                Visit.checked_in_at,
                Visit.called_at,
                Visit.completed_at,
                Visit.resolved,
                Visit.rating,
                Booking.mode,
            )
            .outerjoin(Visit, Visit.booking_id == Booking.id)
            .where(*_in_periods(tenant, periods))
        )
        if service_id is not None:
            query = query.where(
                exists().where(
                    BookingItem.booking_id == Booking.id, BookingItem.service_id == service_id
                )
            )
        return [
            Placed(row[0], row[1], Outcome(*row[2:])) for row in await self.session.execute(query)
        ]

    async def services_booked(
        self, tenant: str, periods: Sequence[Period]
    ) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """(booking, service) of the confirmed appointments of ``periods``."""
        rows = await self.session.execute(
            select(BookingItem.booking_id, BookingItem.service_id)
            .join(Booking, Booking.id == BookingItem.booking_id)
            .where(*_in_periods(tenant, periods))
            .distinct()
        )
        return [(booking_id, service_id) for booking_id, service_id in rows]

    async def first_start(self, tenant: str, office_ids: Sequence[uuid.UUID]) -> datetime | None:
        """When the earliest confirmed appointment of these offices begins."""
        return await self.session.scalar(
            select(func.min(Booking.starts_at)).where(
                Booking.tenant == tenant,
                Booking.office_id.in_(list(office_ids)),
                Booking.status == BookingStatus.CONFIRMED,
            )
        )

    async def closed_through(self, tenant: str, zone: str) -> date | None:
        """The last day of the rollup of the tenant's offices in ``zone`` (None: no day)."""
        return await self.session.scalar(
            select(KpiWatermark.closed_through).where(
                KpiWatermark.tenant == tenant, KpiWatermark.time_zone == zone
            )
        )

    async def lock_watermark(self, tenant: str, zone: str) -> date | None:
        """:meth:`closed_through`, its row (made now if missing) locked for this
        transaction: the rollup's writers of a tenant and zone wait for each other here, and
        each then reads what the one before it committed."""
        dialect = self.session.get_bind().dialect.name
        await self.session.execute(
            ignoring_conflicts(dialect, KpiWatermark).values(
                tenant=tenant, time_zone=zone, closed_through=None
            )
        )
        return await self.session.scalar(
            select(KpiWatermark.closed_through)
            .where(KpiWatermark.tenant == tenant, KpiWatermark.time_zone == zone)
            .with_for_update()
        )

    async def set_watermark(self, tenant: str, zone: str, closed_through: date | None) -> None:
        await self.session.execute(
            update(KpiWatermark)
            .where(KpiWatermark.tenant == tenant, KpiWatermark.time_zone == zone)
            .values(closed_through=closed_through)
        )

    async def days(
        self,
        tenant: str,
        zone: str,
        office_ids: Sequence[uuid.UUID],
        service_id: uuid.UUID,
        first: date,
        last: date,
    ) -> list[dict[str, Any]]:
        """The rollup rows of ``office_ids`` (:data:`EVERY`: every office of the zone) for
        ``service_id`` (:data:`EVERY`: every appointment) on the days ``first`` to ``last``."""
        rows = await self.session.execute(
            select(_KPI_DAYS).where(
                _KPI_DAYS.c.tenant == tenant,
                _KPI_DAYS.c.time_zone == zone,
                _KPI_DAYS.c.office_id.in_(list(office_ids)),
                _KPI_DAYS.c.service_id == service_id,
                _KPI_DAYS.c.day >= first,
                _KPI_DAYS.c.day <= last,
            )
        )
        return [dict(row._mapping) for row in rows]

    async def offices_days(self, tenant: str, zone: str, day: date) -> list[dict[str, Any]]:
        """Every office's rollup rows of ``day`` (not those summing every office)."""
        rows = await self.session.execute(
            select(_KPI_DAYS).where(
                _KPI_DAYS.c.tenant == tenant,
                _KPI_DAYS.c.time_zone == zone,
                _KPI_DAYS.c.office_id != EVERY,
                _KPI_DAYS.c.day == day,
            )
        )
        return [dict(row._mapping) for row in rows]

    async def replace_days(
        self,
        tenant: str,
        zone: str,
        office_ids: Sequence[uuid.UUID] | None,
        first: date,
        last: date,
        rows: Sequence[dict[str, Any]],
    ) -> None:
        """Put ``rows`` in place of the rollup rows of ``office_ids`` (None: all of the
        zone's rows) on the days ``first`` to ``last``."""
        statement = delete(_KPI_DAYS).where(
            _KPI_DAYS.c.tenant == tenant,
            _KPI_DAYS.c.time_zone == zone,
            _KPI_DAYS.c.day >= first,
            _KPI_DAYS.c.day <= last,
        )
        if office_ids is not None:
            statement = statement.where(_KPI_DAYS.c.office_id.in_(list(office_ids)))
        await self.session.execute(statement)
        if rows:
            await self.session.execute(insert(_KPI_DAYS), list(rows))
