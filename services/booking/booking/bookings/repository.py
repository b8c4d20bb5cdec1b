from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import String, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from booking.bookings.models import Booking, BookingItem, BookingStatus, SlotClaim
from booking.bookings.secrets import NO_TOKEN_HASH
from booking.db import Base, ignoring_conflicts
from booking.offices.models import Office
from servicekit.repository import Repository

# The statements of a hold and a confirmation are built once: building an expression (and its
# cache key) on every request cost more CPU than running it. Those that load no objects name
# the tables, not the mapped classes, so no ORM bookkeeping (session synchronisation, identity
# map) runs for them.
_claims = Base.metadata.tables[SlotClaim.__tablename__]
_bookings = Base.metadata.tables[Booking.__tablename__]
_items = Base.metadata.tables[BookingItem.__tablename__]

_BOOKING_WITH_ITEMS = (
    select(Booking).where(Booking.id == bindparam("booking_id")).options(joinedload(Booking.items))
)
_BOOKING_WITH_ITEMS_FOR_UPDATE = _BOOKING_WITH_ITEMS.with_for_update(of=Booking)

_SEATS = select(_claims.c.unit_start, _claims.c.seat, _claims.c.expires_at).where(
    _claims.c.office_id == bindparam("office_id"),
    _claims.c.unit_start.in_(bindparam("units", expanding=True)),
)
_FREE_EXPIRED_SEAT = delete(_claims).where(
    _claims.c.office_id == bindparam("office_id"),
    _claims.c.unit_start == bindparam("unit_start"),
    _claims.c.seat == bindparam("seat"),
    _claims.c.expires_at.is_not(None),
    _claims.c.expires_at <= bindparam("now"),
)
_TAKE_SEAT = {
    dialect: ignoring_conflicts(dialect, _claims).returning(_claims.c.seat)
    for dialect in ("postgresql", "sqlite")
}
_MAKE_PERMANENT = (
    update(_claims)
    .where(
        _claims.c.booking_id == bindparam("of_booking"),
        _claims.c.expires_at.is_not(None),
        _claims.c.expires_at > bindparam("now"),
    )
    .values(expires_at=None)
)
_ADVISORY_LOCK = select(
    func.pg_advisory_xact_lock(func.hashtextextended(bindparam("key", type_=String), 0))
)
_OPEN_COUNTS = (
    select(_items.c.service_id, func.count(func.distinct(_bookings.c.id)))
    .join(_bookings, _bookings.c.id == _items.c.booking_id)
    .where(
        _bookings.c.tenant == bindparam("tenant"),
        _bookings.c.status == BookingStatus.CONFIRMED.value,
        _bookings.c.starts_at > bindparam("now"),
        _bookings.c.id != bindparam("exclude"),
        _items.c.service_id.in_(bindparam("service_ids", expanding=True)),
        # A NULL owner matches nothing: "= NULL" is never true.
        or_(
            _bookings.c.citizen_subject == bindparam("subject", type_=String),
            _bookings.c.email == bindparam("email", type_=String),
        ),
    )
    .group_by(_items.c.service_id)
)


# Erasure (retention, or a citizen's request): what an erased booking keeps of its citizen is
# nothing; the appointment (office, services, times, status, code, visit) stays for the KPIs.
_ERASED: dict[str, object] = {
    "name": None,
    "email": None,
    "phone": None,
    "citizen_subject": None,
    "manage_token_hash": NO_TOKEN_HASH,
}
_PERSONAL = or_(
    Booking.name.is_not(None),
    Booking.email.is_not(None),
    Booking.phone.is_not(None),
    Booking.citizen_subject.is_not(None),
    Booking.manage_token_hash != NO_TOKEN_HASH,
)


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming seats: taken or not, and the units known to be full now."""

    taken: bool
    full: list[datetime]


@dataclass(frozen=True)
class Seats:
    """The claimed seats of some slot units as one statement saw them."""

    live: frozenset[tuple[datetime, int]]
    expired: frozenset[tuple[datetime, int]]

    def full(self, units: Iterable[datetime], capacity: int) -> list[datetime]:
        """The units among ``units`` whose every seat has a live claim."""
        taken: dict[datetime, int] = {}
        for unit, _ in self.live:
            taken[unit] = taken.get(unit, 0) + 1
        return [unit for unit in units if taken.get(unit, 0) >= capacity]


class BookingRepository(Repository[Booking]):
    """Bookings and their seat claims.

    :meth:`get` and :meth:`add` replace the base's: a booking comes with its items, and is
    written with plain INSERTs (both on the path of every hold).
    """

    model = Booking

    async def get(self, booking_id: uuid.UUID, *, for_update: bool = False) -> Booking | None:
        """The booking with its items in one round trip (they come joined: a booking has a
        handful); ``for_update`` locks its row until commit."""
        query = _BOOKING_WITH_ITEMS_FOR_UPDATE if for_update else _BOOKING_WITH_ITEMS
        result = await self.session.scalars(query, {"booking_id": booking_id})
        return result.unique().one_or_none()

    async def due_reminders(self, now: datetime, limit: int) -> Sequence[Booking]:
        """Confirmed bookings whose reminder is due, oldest due first, with their items.

        Served by the partial index on ``remind_at`` (only bookings still to be reminded),
        see bench/mail. On PostgreSQL the rows are locked and skipped by a replica doing the
        same at the same time: replicas share the work.
        """
        query = (
            select(Booking)
            .where(Booking.remind_at <= now, Booking.status == BookingStatus.CONFIRMED)
            .order_by(Booking.remind_at)
            .limit(limit)
            .options(selectinload(Booking.items))
        )
        if self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=Booking)
        return (await self.session.scalars(query)).all()

    async def add(self, booking: Booking) -> Booking:
        """Insert a new booking and its items: two plain INSERTs.

        The booking is not tracked by the session (it is written as it is, once; a hold changes
        nothing afterwards): the unit of work's bookkeeping for two new rows cost more CPU than
        both statements.
        """
        await self.session.execute(
            insert(_bookings), {c.key: getattr(booking, c.key) for c in _bookings.columns}
        )
        await self.session.execute(
            insert(_items),
            [{c.key: getattr(item, c.key) for c in _items.columns} for item in booking.items],
        )
        return booking

    async def update(self, booking: Booking, **values: object) -> None:
        """Write ``values`` to the booking's row with one UPDATE, and to the loaded object.

        The object takes them as its committed state, so the unit of work has nothing left
        to flush for it (its change tracking cost more CPU than the statement).
        """
        await self.session.execute(
            update(_bookings).where(_bookings.c.id == booking.id).values(**values)
        )
        for key, value in values.items():
            set_committed_value(booking, key, value)

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

    async def seats(self, office_id: uuid.UUID, units: Sequence[datetime], now: datetime) -> Seats:
        """Who sits where in ``units`` now: read before claiming, so that a hold for a full
        unit is refused before anything is written."""
        rows = await self.session.execute(_SEATS, {"office_id": office_id, "units": list(units)})
        live: set[tuple[datetime, int]] = set()
        expired: set[tuple[datetime, int]] = set()
        for unit_start, seat, expires_at in rows:
            alive = expires_at is None or _utc(expires_at) > now
            (live if alive else expired).add((_utc(unit_start), seat))
        return Seats(live=frozenset(live), expired=frozenset(expired))

    async def claim(
        self,
        *,
        office_id: uuid.UUID,
        units: Sequence[datetime],
        booking_id: uuid.UUID,
        capacity: int,
        expires_at: datetime | None,
        now: datetime,
        seen: Seats,
        first_seat: int = 0,
    ) -> Claim:
        """Take one seat of every unit for the booking, or report the unit that is full.

        The seat is part of the primary key, so two transactions can never both own a seat;
        ``ON CONFLICT DO NOTHING`` turns a lost race into "try the next seat" instead of an
        error (PostgreSQL waits for the competing transaction to end before deciding).
        ``seen`` (from :meth:`seats`) says which seats to skip; a seat it saw taken by an
        expired hold is freed (deleted) right before it is taken, which is what frees expired
        holds. Seats are tried from ``first_seat`` on, so that concurrent claimers of one
        process start on different seats instead of queueing for the same one.
        """
        if not units:
            return Claim(taken=True, full=[])
        take_seat = _TAKE_SEAT[self.session.get_bind().dialect.name]
        filled: list[datetime] = []
        seats = [(first_seat + offset) % capacity for offset in range(capacity)]
        for unit in sorted(units):
            others = sum(1 for seat in seats if (unit, seat) in seen.live)
            for seat in seats:
                if (unit, seat) in seen.live:
                    continue
                if (unit, seat) in seen.expired:
                    await self.session.execute(
                        _FREE_EXPIRED_SEAT,
                        {"office_id": office_id, "unit_start": unit, "seat": seat, "now": now},
                    )
                row = await self.session.execute(
                    take_seat,
                    {
                        "office_id": office_id,
                        "unit_start": unit,
                        "seat": seat,
                        "booking_id": booking_id,
                        "expires_at": expires_at,
                    },
                )
                if row.first() is not None:
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
        result = await self.session.execute(_MAKE_PERMANENT, {"of_booking": booking_id, "now": now})
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
            await self.session.execute(_ADVISORY_LOCK, {"key": key})

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

    async def live_holds_of_address(self, tenant: str, client_key: str, now: datetime) -> int:
        count = await self.session.scalar(
            select(func.count())
            .select_from(Booking)
            .where(
                Booking.tenant == tenant,
                Booking.client_key == client_key,
                Booking.status == BookingStatus.HELD,
                Booking.hold_expires_at > now,
            )
        )
        return int(count or 0)

    async def live_holds_of_email(
        self, tenant: str, email: str, now: datetime, exclude: uuid.UUID
    ) -> int:
        """Unexpired holds that wait for this address's double opt-in."""
        count = await self.session.scalar(
            select(func.count())
            .select_from(Booking)
            .where(
                Booking.tenant == tenant,
                Booking.email == email,
                Booking.status == BookingStatus.HELD,
                Booking.hold_expires_at > now,
                Booking.id != exclude,
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
        if subject is None and email is None:
            return {}
        rows = await self.session.execute(
            _OPEN_COUNTS,
            {
                "tenant": tenant,
                "now": now,
                "exclude": exclude,
                "service_ids": list(service_ids),
                "subject": subject,
                "email": email,
            },
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

    async def of_person(
        self, tenant: str, subject: str | None, email: str | None
    ) -> Sequence[Booking]:
        """Every booking of the tenant made by an account (``subject``) or for an address."""
        owner = [
            *([Booking.citizen_subject == subject] if subject else []),
            *([Booking.email == email] if email else []),
        ]
        if not owner:
            return []
        result = await self.session.scalars(
            select(Booking).where(Booking.tenant == tenant, or_(*owner)).order_by(Booking.id)
        )
        return result.all()

    async def erase(self, booking_ids: Sequence[uuid.UUID]) -> int:
        """Erase what these bookings say about their citizen; how many still said something."""
        if not booking_ids:
            return 0
        result = await self.session.execute(
            update(Booking)
            .where(Booking.id.in_(booking_ids), _PERSONAL)
            .values(_ERASED)
            .execution_options(synchronize_session="fetch")
        )
        return int(getattr(result, "rowcount", 0))

    async def erase_ended(self, tenant: str, before: datetime, limit: int) -> int:
        """Erase what at most ``limit`` of the tenant's bookings that ended before ``before``
        say about their citizen, in one UPDATE; how many it erased."""
        batch = (
            select(Booking.id)
            .where(Booking.tenant == tenant, Booking.ends_at < before, _PERSONAL)
            .limit(limit)
            .scalar_subquery()
        )
        result = await self.session.execute(
            update(Booking)
            .where(Booking.id.in_(batch), _PERSONAL)
            .values(_ERASED)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0))

    async def tenants(self) -> Sequence[str]:
        return (await self.session.scalars(select(Booking.tenant).distinct())).all()


def _utc(value: datetime) -> datetime:
    # Columns of a TypeDecorator come back through it; this guards against raw results.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
