from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from booking.access import NotAdministrator
from booking.bookings.models import Booking, BookingStatus
from booking.bookings.secrets import NO_TOKEN_HASH, new_code
from booking.bookings.service import Bookings, Caller, booked_items, is_its_citizen
from booking.hours.calendar import day_bounds
from booking.offices.models import Office
from booking.settings import BookingSettings
from booking.visits.errors import (
    AlreadyRated,
    CheckInClosed,
    CheckInNeedsConfirmation,
    NobodyWaiting,
    NotCheckedIn,
    NotTheCitizen,
    VisitCompleted,
    VisitNotCalled,
    VisitNotCompleted,
)
from booking.visits.models import Visit
from booking.visits.repository import KpiDayRepository, Outcome, Spread, Totals, VisitRepository
from booking.visits.rollup import kpi_figures, refresh_day
from booking.visits.schemas import (
    Board,
    BoardCall,
    Distribution,
    Kpis,
    RemoteVisits,
    VisitOut,
    VisitStatus,
    WalkInIn,
)
from servicekit.auth import Principal
from servicekit.db import utcnow

BOARD_CALLS = 10
"""How many of the latest calls the waiting room's display shows."""


def status_of(visit: Visit) -> VisitStatus:
    if visit.completed_at is not None:
        return "completed"
    return "called" if visit.called_at is not None else "waiting"


def visit_out(visit: Visit, booking: Booking, waiting_ahead: int | None = None) -> VisitOut:
    return VisitOut(
        booking_id=booking.id,
        code=booking.code,
        office_id=booking.office_id,
        starts_at=booking.starts_at,
        ends_at=booking.ends_at,
        status=status_of(visit),
        walk_in=booking.walk_in,
        checked_in_at=visit.checked_in_at,
        waiting_ahead=waiting_ahead,
        called_at=visit.called_at,
        counter=visit.counter,
        completed_at=visit.completed_at,
        resolved=visit.resolved,
        rating=visit.rating,
    )


def spread(values: Sequence[float]) -> Spread:
    """Count, sum and nearest-rank median and 90th percentile of ``values``."""
    if not values:
        return Spread(count=0, total=0.0, p50=None, p90=None)
    ordered = sorted(values)

    def rank(share: float) -> float:
        return ordered[max(math.ceil(share * len(ordered)) - 1, 0)]

    return Spread(count=len(ordered), total=sum(ordered), p50=rank(0.5), p90=rank(0.9))


def distribution(values: Spread) -> Distribution:
    """Count, mean, median and 90th percentile, rounded to 0.1."""
    if not values.count or values.p50 is None or values.p90 is None:
        return Distribution(count=0, mean=None, p50=None, p90=None)
    return Distribution(
        count=values.count,
        mean=round(values.total / values.count, 1),
        p50=round(values.p50, 1),
        p90=round(values.p90, 1),
    )


def totals_of(days: Sequence[Outcome], now: datetime) -> Totals:
    """The KPIs' totals of some appointments' days, from their values: the definition the
    rollup (:mod:`booking.visits.rollup`) is checked against."""
    appointments = ended = checked_in = walk_ins = no_shows = completed = resolved = 0
    waiting: list[float] = []
    processing: list[float] = []
    ratings: list[float] = []
    saved = 0.0
    for day in days:
        if day.walk_in:
            walk_ins += 1
        else:
            appointments += 1
            if day.ends_at <= now:
                ended += 1
                no_shows += day.checked_in_at is None
        if day.checked_in_at is None:
            continue
        checked_in += not day.walk_in
        if day.called_at is not None:
            since = max(day.checked_in_at, day.starts_at)
            waiting.append(max(_minutes(day.called_at - since), 0.0))
            if day.completed_at is not None:
                completed += 1
                resolved += bool(day.resolved)
                spent = _minutes(day.completed_at - day.called_at)
                processing.append(spent)
                saved += max(_minutes(day.ends_at - day.starts_at) - spent, 0.0)
        if day.rating is not None:
            ratings.append(day.rating)
    return Totals(
        appointments=appointments,
        ended=ended,
        checked_in=checked_in,
        walk_ins=walk_ins,
        no_shows=no_shows,
        completed=completed,
        resolved=resolved,
        waiting=spread(waiting),
        processing=spread(processing),
        ratings=spread(ratings),
        saved_minutes=saved,
    )


def _minutes(delta: timedelta) -> float:
    return delta.total_seconds() / 60


@dataclass(frozen=True)
class DayQueue:
    office: Office
    day: date
    waiting: list[VisitOut]
    called: list[VisitOut]


class Visits:
    """The day of an appointment: check-in, the office's queue, the outcome, and the KPIs."""

    def __init__(
        self,
        visits: VisitRepository,
        bookings: Bookings,
        settings: BookingSettings,
        rollup: KpiDayRepository,
    ) -> None:
        self.visits = visits
        self.rollup = rollup
        self.bookings = bookings
        self.directory = bookings.directory
        self.settings = settings

    async def check_in(self, booking_id: uuid.UUID, caller: Caller) -> VisitOut:
        """The citizen (or a clerk at the desk) reports the citizen present; repeating it
        changes nothing."""
        now = utcnow()
        booking = await self.bookings.find(booking_id, caller, for_update=True)
        if booking.status != BookingStatus.CONFIRMED:
            raise CheckInNeedsConfirmation("Only a confirmed booking can be checked in.")
        visit = await self.visits.get(booking.id)
        if visit is None:
            opens = booking.starts_at - timedelta(minutes=self.settings.check_in_opens_minutes)
            if not opens <= now < booking.ends_at:
                raise CheckInClosed(
                    f"Check-in opens {self.settings.check_in_opens_minutes} minutes before the "
                    "appointment and closes at its end."
                )
            visit = await self.visits.check_in(booking, now)
        return await self._with_position(visit, booking)

    async def _with_position(self, visit: Visit, booking: Booking) -> VisitOut:
        if visit.called_at is not None:
            return visit_out(visit, booking)
        office = await self.directory.get(booking.tenant, booking.office_id)
        start, end = self._today(office)
        waiting = [
            other.booking_id
            for other, _ in await self.visits.open_of_day(office.id, start, end)
            if other.called_at is None
        ]
        ahead = waiting.index(visit.booking_id) if visit.booking_id in waiting else None
        return visit_out(visit, booking, ahead)

    @staticmethod
    def _today(office: Office) -> tuple[datetime, datetime]:
        zone = ZoneInfo(office.time_zone)
        return day_bounds(utcnow().astimezone(zone).date(), zone)

    async def queue(self, tenant: str, office_id: uuid.UUID, principal: Principal) -> DayQueue:
        office = await self.bookings.staffed_office(tenant, office_id, principal)
        start, end = self._today(office)
        waiting: list[VisitOut] = []
        called: list[VisitOut] = []
        for visit, booking in await self.visits.open_of_day(office.id, start, end):
            if visit.called_at is None:
                waiting.append(visit_out(visit, booking, len(waiting)))
            else:
                called.append(visit_out(visit, booking))
        called.sort(key=lambda v: v.called_at or v.checked_in_at)
        day = start.astimezone(ZoneInfo(office.time_zone)).date()
        return DayQueue(office=office, day=day, waiting=waiting, called=called)

    async def board(self, tenant: str, office_id: uuid.UUID) -> Board:
        """The waiting room's display: how many wait, and the latest calls (public)."""
        office = await self.directory.get(tenant, office_id)
        start, end = self._today(office)
        waiting = sum(
            visit.called_at is None
            for visit, _ in await self.visits.open_of_day(office.id, start, end)
        )
        calls = await self.visits.latest_calls(office.id, start, end, BOARD_CALLS)
        return Board(
            office_id=office.id,
            date=start.astimezone(ZoneInfo(office.time_zone)).date(),
            waiting=waiting,
            calls=[
                BoardCall(code=booking.code, counter=visit.counter or "", called_at=called_at)
                for visit, booking in calls
                if (called_at := visit.called_at) is not None
            ],
        )

    async def walk_in(
        self, tenant: str, office_id: uuid.UUID, principal: Principal, data: WalkInIn
    ) -> VisitOut:
        """Register a citizen without an appointment at the desk and queue them at once, as an
        appointment that begins now. It holds no seat: the online slots stay as they are."""
        office = await self.bookings.staffed_office(tenant, office_id, principal)
        planner = self.bookings.planner
        services = await planner.services_of(tenant, data.service_ids)
        plan = await planner.plan_for(tenant, office.id, services)
        now = utcnow()
        booking_id = uuid.uuid4()
        booking = Booking(
            id=booking_id,
            tenant=tenant,
            office_id=office.id,
            code=new_code(),
            status=BookingStatus.CONFIRMED,
            starts_at=now,
            ends_at=now + plan.length,
            hold_expires_at=None,
            citizen_subject=None,
            manage_token_hash=NO_TOKEN_HASH,
            language="de",
            name=data.name,
            email=None,
            phone=None,
            created_at=now,
            confirmed_at=now,
            cancelled_at=None,
            sequence=0,
            remind_at=None,
            walk_in=True,
            mode="in_person",  # at the desk, whatever the service's offer
            items=booked_items(booking_id, services, plan),
        )
        await self.bookings.bookings.add(booking)
        visit = await self.visits.check_in(booking, now)
        return await self._with_position(visit, booking)

    async def call_next(
        self, tenant: str, office_id: uuid.UUID, principal: Principal, counter: str
    ) -> VisitOut:
        """Call the first waiting citizen of today to ``counter``; two clerks calling at once
        call two different citizens."""
        office = await self.bookings.staffed_office(tenant, office_id, principal)
        start, end = self._today(office)
        row = await self.visits.next_waiting(office.id, start, end)
        if row is None:
            raise NobodyWaiting("Nobody checked in is waiting; call again later.")
        visit, booking = row
        visit.called_at = utcnow()
        visit.counter = counter
        visit.called_by = principal.subject
        await self.visits.flush()
        return visit_out(visit, booking)

    async def complete(
        self, booking_id: uuid.UUID, principal: Principal, resolved: bool
    ) -> VisitOut:
        booking = await self.bookings.find(booking_id, Caller(principal), for_update=True)
        await self.bookings.staffed_office(booking.tenant, booking.office_id, principal)
        visit = await self.visits.get(booking.id)
        if visit is None:
            raise NotCheckedIn("The citizen has not checked in.")
        if visit.completed_at is not None:
            raise VisitCompleted("The visit is already completed.")
        if visit.called_at is None:
            raise VisitNotCalled("Call the citizen to a counter first.")
        visit.completed_at = utcnow()
        visit.resolved = resolved
        await self.visits.flush()
        await self._refresh_kpis(booking)
        await self.bookings.ask_for_feedback(booking)
        return visit_out(visit, booking)

    async def feedback(self, booking_id: uuid.UUID, caller: Caller, rating: int) -> VisitOut:
        booking = await self.bookings.find(booking_id, caller, for_update=True)
        if not is_its_citizen(booking, caller):
            raise NotTheCitizen("Only the citizen of the booking rates the visit.")
        visit = await self.visits.get(booking.id)
        if visit is None or visit.completed_at is None:
            raise VisitNotCompleted("Rate the visit once it is completed.")
        if visit.rating is not None:
            raise AlreadyRated("This visit has already been rated.")
        visit.rating = rating
        visit.rated_at = utcnow()
        await self.visits.flush()
        await self._refresh_kpis(booking)
        return visit_out(visit, booking)

    async def _refresh_kpis(self, booking: Booking) -> None:
        """A visit of a day already closed for the KPIs changed (completed after midnight,
        rated later): its day's rollup follows, in this transaction."""
        office = await self.directory.get(booking.tenant, booking.office_id)
        await refresh_day(
            self.rollup, booking.tenant, office.time_zone, office.id, booking.starts_at, utcnow()
        )

    async def kpis(
        self,
        tenant: str,
        principal: Principal,
        date_from: date,
        date_to: date,
        office_id: uuid.UUID | None,
        service_id: uuid.UUID | None = None,
    ) -> Kpis:
        """The KPIs of confirmed appointments on the local days ``date_from`` to ``date_to``:
        of one office (its clerks, administrators) or of every office (administrators), of
        every appointment or of those that include ``service_id``."""
        if office_id is not None:
            offices = [await self.bookings.staffed_office(tenant, office_id, principal)]
        elif principal.tenant == tenant and principal.has_role("admin"):
            offices = list(await self.directory.search(tenant))
        else:
            raise NotAdministrator("Name an office you work at, or ask an administrator.")
        zones: dict[str, list[uuid.UUID]] = {}
        for office in offices:
            zones.setdefault(office.time_zone, []).append(office.id)
        figures = await kpi_figures(
            self.rollup,
            tenant,
            zones,
            every_office=office_id is None,
            first=date_from,
            last=date_to,
            service_id=service_id,
            now=utcnow(),
        )
        found = figures.totals()
        remote = RemoteVisits(
            appointments=figures.video_appointments,
            completed=figures.video_completed,
            minutes=round(figures.video_minutes, 1),
        )
        return Kpis(
            date_from=date_from,
            date_to=date_to,
            office_id=office_id,
            service_id=service_id,
            appointments=found.appointments,
            ended=found.ended,
            checked_in=found.checked_in,
            walk_ins=found.walk_ins,
            no_shows=found.no_shows,
            no_show_rate=round(found.no_shows / found.ended, 3) if found.ended else None,
            waiting=distribution(found.waiting),
            processing=distribution(found.processing),
            completed=found.completed,
            first_contact_resolution_rate=(
                round(found.resolved / found.completed, 3) if found.completed else None
            ),
            satisfaction=distribution(found.ratings),
            staff_minutes_saved=round(found.saved_minutes, 1),
            remote=remote,
        )


def remote_visits(days: Sequence[Outcome]) -> RemoteVisits:
    """The video appointments among ``days`` (no walk-ins: those are at the desk): the
    definition the rollup is checked against, as :func:`totals_of`."""
    appointments = completed = 0
    minutes = 0.0
    for day in days:
        if day.walk_in or day.mode != "video":
            continue
        appointments += 1
        if day.checked_in_at and day.called_at and day.completed_at:
            completed += 1
            minutes += _minutes(day.completed_at - day.called_at)
    return RemoteVisits(appointments=appointments, completed=completed, minutes=round(minutes, 1))
