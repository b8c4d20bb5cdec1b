from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from booking.bookings.models import Booking, BookingItem, BookingStatus, SlotClaim
from booking.db import insert_ignoring_conflicts
from booking.offices.models import Office


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming seats: taken or not, and the units known to be full now."""

    taken: bool
    full: list[datetime]


class BookingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, booking_id: uuid.UUID, *, for_update: bool = False) -> Booking | None:
        # One round trip: the items come joined (a booking has a handful).
        query = select(Booking).where(Booking.id == booking_id).options(joinedload(Booking.items))
        if for_update:
            query = query.with_for_update(of=Booking)
        result = await self.session.scalars(query)
        return result.unique().one_or_none()

    async def add(self, booking: Booking) -> Booking:
        self.session.add(booking)
        await self.session.flush()
        return booking

    async def flush(self) -> None:
        await self.session.flush()

    # -- capacity ---------------------------------------------------------------------------

    async def full_units(
        self, office_ids: Iterable[uuid.UUID], start: datetime, end: datetime, now: datetime
    ) -> set[tuple[uuid.UUID, datetime]]:
        """Units in ``[start, end)`` with every counter taken; expired holds do not count."""
        rows = await self.session.execute(
            select(SlotClaim.office_id, SlotClaim.unit_start)
            .join(Office, Office.id == SlotClaim.office_id)
            .where(
                SlotClaim.office_id.in_(list(office_ids)),
                SlotClaim.unit_start >= start,
                SlotClaim.unit_start < end,
                or_(SlotClaim.expires_at.is_(None), SlotClaim.expires_at > now),
            )
            .group_by(SlotClaim.office_id, SlotClaim.unit_start, Office.counters)
            .having(func.count() >= Office.counters)
        )
        return {(row[0], _utc(row[1])) for row in rows}

    async def full_among(
        self, office_id: uuid.UUID, units: Sequence[datetime], capacity: int, now: datetime
    ) -> list[datetime]:
        """Which of ``units`` are full now: a cheap early answer for a hold (claims decide)."""
        rows = await self.session.execute(
            select(SlotClaim.unit_start)
            .where(
                SlotClaim.office_id == office_id,
                SlotClaim.unit_start.in_(list(units)),
                or_(SlotClaim.expires_at.is_(None), SlotClaim.expires_at > now),
            )
            .group_by(SlotClaim.unit_start)
            .having(func.count() >= capacity)
        )
        return [_utc(row[0]) for row in rows]

    async def claim(
        self,
        *,
        office_id: uuid.UUID,
        units: Sequence[datetime],
        booking_id: uuid.UUID,
        capacity: int,
        expires_at: datetime | None,
        now: datetime,
        first_seat: int = 0,
    ) -> Claim:
        """Take one seat of every unit for the booking, or report the unit that is full.

        The seat is part of the primary key, so two transactions can never both own a seat;
        ``ON CONFLICT DO NOTHING`` turns a lost race into "try the next seat" instead of an
        error (PostgreSQL waits for the competing transaction to end before deciding).
        Seats are tried from ``first_seat`` on, so that concurrent claimers of one process
        start on different seats instead of queueing for the same one.
        Claims of expired holds are deleted first: that is what frees them.
        """
        if not units:
            return Claim(taken=True, full=[])
        await self.session.execute(
            delete(SlotClaim).where(
                SlotClaim.office_id == office_id,
                SlotClaim.unit_start.in_(list(units)),
                SlotClaim.expires_at.is_not(None),
                SlotClaim.expires_at <= now,
            )
        )
        rows = await self.session.execute(
            select(SlotClaim.unit_start, SlotClaim.seat).where(
                SlotClaim.office_id == office_id, SlotClaim.unit_start.in_(list(units))
            )
        )
        taken: set[tuple[datetime, int]] = {(_utc(row[0]), row[1]) for row in rows}
        filled: list[datetime] = []
        seats = [(first_seat + offset) % capacity for offset in range(capacity)]
        for unit in sorted(units):
            others = sum(1 for seat in seats if (unit, seat) in taken)
            for seat in seats:
                if (unit, seat) in taken:
                    continue
                statement = insert_ignoring_conflicts(
                    self.session,
                    SlotClaim,
                    office_id=office_id,
                    unit_start=unit,
                    seat=seat,
                    booking_id=booking_id,
                    expires_at=expires_at,
                ).returning(SlotClaim.seat)
                if (await self.session.execute(statement)).first() is not None:
                    break
                others += 1
            else:
                return Claim(taken=False, full=[unit])
            if others + 1 >= capacity:
                filled.append(unit)
        return Claim(taken=True, full=filled)

    async def claims_of(self, booking_id: uuid.UUID) -> list[tuple[uuid.UUID, datetime]]:
        rows = await self.session.execute(
            select(SlotClaim.office_id, SlotClaim.unit_start).where(
                SlotClaim.booking_id == booking_id
            )
        )
        return [(row[0], _utc(row[1])) for row in rows]

    async def make_permanent(self, booking_id: uuid.UUID, now: datetime) -> int:
        """Turn a hold's unexpired claims into confirmed ones; the number of claims turned."""
        result = await self.session.execute(
            update(SlotClaim)
            .where(
                SlotClaim.booking_id == booking_id,
                SlotClaim.expires_at.is_not(None),
                SlotClaim.expires_at > now,
            )
            .values(expires_at=None)
        )
        return int(getattr(result, "rowcount", 0))

    async def release(
        self, booking_id: uuid.UUID, units: Iterable[tuple[uuid.UUID, datetime]] | None = None
    ) -> list[tuple[uuid.UUID, datetime]]:
        """Free the booking's claims (all of them, or those of the given office units); the
        office units freed."""
        statement = delete(SlotClaim).where(SlotClaim.booking_id == booking_id)
        if units is not None:
            wanted = list(units)
            if not wanted:
                return []
            statement = statement.where(
                or_(
                    *(
                        (SlotClaim.office_id == office_id) & (SlotClaim.unit_start == unit)
                        for office_id, unit in wanted
                    )
                )
            )
        rows = await self.session.execute(
            statement.returning(SlotClaim.office_id, SlotClaim.unit_start)
        )
        return [(row[0], _utc(row[1])) for row in rows]

    # -- queries ----------------------------------------------------------------------------

    async def lock_owners(self, keys: Iterable[str]) -> None:
        """Serialise confirmations of one citizen until commit, so a cap cannot be raced.

        PostgreSQL: transaction-scoped advisory locks, taken in a fixed order. SQLite already
        serialises every writing transaction.
        """
        if self.session.get_bind().dialect.name != "postgresql":
            return
        for key in sorted(set(keys)):
            await self.session.execute(
                select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0)))
            )

    async def live_holds(self, tenant: str, subject: str, now: datetime) -> int:
        count = await self.session.scalar(
            select(func.count())
            .select_from(Booking)
            .where(
                Booking.tenant == tenant,
                Booking.citizen_subject == subject,
                Booking.status == BookingStatus.HELD,
                Booking.hold_expires_at > now,
            )
        )
        return int(count or 0)

    async def open_counts(
        self,
        *,
        tenant: str,
        service_ids: Iterable[uuid.UUID],
        subject: str | None,
        email: str | None,
        now: datetime,
        exclude: uuid.UUID,
    ) -> dict[uuid.UUID, int]:
        """Upcoming confirmed bookings per service of the same citizen (account or e-mail)."""
        owners = []
        if subject is not None:
            owners.append(Booking.citizen_subject == subject)
        if email is not None:
            owners.append(Booking.email == email)
        if not owners:
            return {}
        rows = await self.session.execute(
            select(BookingItem.service_id, func.count(func.distinct(Booking.id)))
            .join(Booking, Booking.id == BookingItem.booking_id)
            .where(
                Booking.tenant == tenant,
                Booking.status == BookingStatus.CONFIRMED,
                Booking.starts_at > now,
                Booking.id != exclude,
                BookingItem.service_id.in_(list(service_ids)),
                or_(*owners),
            )
            .group_by(BookingItem.service_id)
        )
        return {row[0]: row[1] for row in rows}

    async def at_office(
        self, office_id: uuid.UUID, start: datetime, end: datetime, now: datetime
    ) -> Sequence[Booking]:
        """Confirmed bookings and live holds of an office starting in ``[start, end)``."""
        result = await self.session.scalars(
            select(Booking)
            .where(
                Booking.office_id == office_id,
                Booking.starts_at >= start,
                Booking.starts_at < end,
                or_(
                    Booking.status == BookingStatus.CONFIRMED,
                    (Booking.status == BookingStatus.HELD) & (Booking.hold_expires_at > now),
                ),
            )
            .options(selectinload(Booking.items))
            .order_by(Booking.starts_at, Booking.code)
        )
        return result.all()

    async def of_citizen(self, tenant: str, subject: str) -> Sequence[Booking]:
        result = await self.session.scalars(
            select(Booking)
            .where(Booking.tenant == tenant, Booking.citizen_subject == subject)
            .options(selectinload(Booking.items))
            .order_by(Booking.starts_at.desc())
        )
        return result.all()


def _utc(value: datetime) -> datetime:
    # Columns of a TypeDecorator come back through it; this guards against raw results.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
