from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, exists, select

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
    mode: str = "in_person"


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
                Booking.mode,
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
