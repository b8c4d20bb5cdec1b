"""Free slots from opening hours, durations and counter capacity.

A :class:`Planner` answers from the tenant's static data (a :class:`TenantSnapshot`, cached
briefly per process) and one query for the slot units that are full, then computes in memory.
The same plan validates a requested start time when a slot is held.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from operator import itemgetter
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from booking.availability.cache import (
    AvailabilityCache,
    DocumentInfo,
    OfficeInfo,
    ServiceInfo,
    TenantSnapshot,
)
from booking.availability.errors import ServicesNotOffered, SlotNotOffered, TooManyServices
from booking.bookings.repository import BookingRepository
from booking.catalogue.errors import ServiceNotFound
from booking.catalogue.models import Service
from booking.catalogue.repository import ServiceRepository
from booking.hours.calendar import (
    Interval,
    WeeklyRule,
    day_bounds,
    open_intervals,
    slot_starts,
    units_of,
)
from booking.hours.public_holidays import public_holidays
from booking.hours.repository import HoursRepository
from booking.hours.schemas import weekly_rule
from booking.offices.errors import OfficeNotFound
from booking.offices.models import Office
from booking.offices.repository import OfficeRepository
from servicekit.db import Database, utcnow

FullUnits = set[tuple[uuid.UUID, datetime]]


@dataclass
class OfficePlan:
    office: OfficeInfo
    zone: ZoneInfo
    length: timedelta
    step: timedelta
    rules: Sequence[WeeklyRule] = ()
    closures: Sequence[Interval] = ()
    holidays: frozenset[date] = frozenset()
    mode: str = "in_person"
    """video when the office serves every one of the plan's services by video."""
    opened: dict[date, list[Interval]] = field(default_factory=dict)
    """:meth:`periods` already computed, shared by the plans of one office's hours."""

    def periods(self, day: date) -> list[Interval]:
        """When the office is open on the local ``day`` (UTC intervals; do not change them)."""
        found = self.opened.get(day)
        if found is None:
            found = open_intervals(day, self.zone, self.rules, self.closures, self.holidays)
            self.opened[day] = found
        return found

    @property
    def capacity(self) -> int:
        return self.office.counters

    def window(self, now: datetime) -> tuple[date, date]:
        """Bookable local days ``[first, end)``."""
        today = now.astimezone(self.zone).date()
        return (
            today + timedelta(days=self.office.bookable_from_days),
            today + timedelta(days=self.office.bookable_until_days),
        )

    def starts(self, day: date, now: datetime) -> list[datetime]:
        first, end = self.window(now)
        if not first <= day < end:
            return []
        return [s for s in slot_starts(self.periods(day), self.step, self.length) if s > now]

    def has_free_start(
        self,
        day: date,
        now: datetime,
        full: FullUnits,
        window: tuple[date, date] | None = None,
    ) -> bool:
        """Whether :meth:`starts` of ``day`` has a free one, without listing them: a month of
        a district's offices is thousands of days, and the first free start answers each.
        ``window``: :meth:`window` of ``now``, if the caller has it already."""
        first, end = window or self.window(now)
        if not first <= day < end:
            return False
        return any(
            start > now and self.is_free(start, full)
            for start in slot_starts(self.periods(day), self.step, self.length)
        )

    def offers(self, start: datetime, now: datetime) -> bool:
        """Whether ``start`` is one of :meth:`starts` of its local day, without listing them."""
        first, end = self.window(now)
        day = self.local_day(start)
        if start <= now or not first <= day < end:
            return False
        return any(
            opens <= start
            and start + self.length <= closes
            and (start - opens) % self.step == timedelta(0)
            for opens, closes in self.periods(day)
        )

    def units(self, start: datetime) -> list[datetime]:
        return units_of(start, self.length, self.step)

    def is_free(self, start: datetime, full: FullUnits) -> bool:
        office_id = self.office.id
        if self.length <= self.step:  # one unit: most appointments
            return (office_id, start) not in full
        return not any((office_id, unit) in full for unit in self.units(start))

    def local_day(self, instant: datetime) -> date:
        return instant.astimezone(self.zone).date()

    def duration_of(self, service: ServiceInfo) -> int:
        return self.office.durations.get(service.id) or service.duration_minutes


class Slot(NamedTuple):
    """A free slot (a tuple: a district's day has thousands of them)."""

    office_id: uuid.UUID
    start: datetime
    end: datetime
    mode: str = "in_person"


def service_info(service: Service) -> ServiceInfo:
    return ServiceInfo(
        id=service.id,
        duration_minutes=service.duration_minutes,
        leika=service.leika,
        name_de=service.name_de,
        name_en=service.name_en,
        documents=tuple(
            DocumentInfo(
                id=document.id,
                name_de=document.name_de,
                name_en=document.name_en,
                description_de=document.description_de,
                description_en=document.description_en,
                mandatory=document.mandatory,
                accepted_formats=tuple(document.accepted_formats),
            )
            for document in service.documents
        ),
    )


def office_info(office: Office) -> OfficeInfo:
    return OfficeInfo(
        id=office.id,
        tenant=office.tenant,
        name=office.name,
        street=office.street,
        postal_code=office.postal_code,
        city=office.city,
        time_zone=office.time_zone,
        counters=office.counters,
        slot_minutes=office.slot_minutes,
        bookable_from_days=office.bookable_from_days,
        bookable_until_days=office.bookable_until_days,
        opens_on_public_holidays=office.opens_on_public_holidays,
        durations={o.service_id: o.duration_minutes for o in office.services},
        video=frozenset(o.service_id for o in office.services if o.mode == "video"),
    )


class Planner:
    def __init__(
        self,
        services: ServiceRepository,
        offices: OfficeRepository,
        hours: HoursRepository,
        bookings: BookingRepository,
        cache: AvailabilityCache,
        *,
        max_services: int,
    ) -> None:
        self.services = services
        self.offices = offices
        self.hours = hours
        self.bookings = bookings
        self.cache = cache
        self.max_services = max_services

    @classmethod
    def on(cls, session: AsyncSession, cache: AvailabilityCache, *, max_services: int) -> Planner:
        """A planner reading through ``session``."""
        return cls(
            ServiceRepository(session),
            OfficeRepository(session),
            HoursRepository(session),
            BookingRepository(session),
            cache,
            max_services=max_services,
        )

    async def snapshot(self, tenant: str) -> TenantSnapshot:
        return await self.cache.snapshot(tenant, lambda: self._load(tenant))

    async def _load(self, tenant: str) -> TenantSnapshot:
        # Everything that can matter from yesterday on (a day of slack covers every zone).
        since = utcnow() - timedelta(days=2)
        services = {
            service.id: service_info(service) for service in await self.services.list(tenant)
        }
        offices = {office.id: office_info(office) for office in await self.offices.list(tenant)}
        rules: dict[uuid.UUID, list[WeeklyRule]] = {office_id: [] for office_id in offices}
        closures: dict[uuid.UUID, list[Interval]] = {office_id: [] for office_id in offices}
        if offices:
            for rule in await self.hours.rules(offices):
                rules[rule.office_id].append(weekly_rule(rule))
            for closure in await self.hours.closures_after(offices, since):
                closures[closure.office_id].append((closure.starts_at, closure.ends_at))
        declared = frozenset(h.day for h in await self.hours.holidays_from(tenant, since.date()))
        # Up to the end of the latest bookable window (check_start looks two days further).
        window = max((office.bookable_until_days for office in offices.values()), default=0)
        until = since + timedelta(days=window + 4)
        of_land = public_holidays(tenant, range(since.year, until.year + 1))
        return TenantSnapshot(
            services=services,
            offices=offices,
            rules=rules,
            closures=closures,
            holidays=declared,
            public_holidays=declared.union(of_land),
        )

    async def services_of(self, tenant: str, service_ids: Sequence[uuid.UUID]) -> list[ServiceInfo]:
        """The requested services in the requested order; 404 for one not in the catalogue."""
        wanted = list(dict.fromkeys(service_ids))
        if not wanted:
            raise TooManyServices("Name at least one service.")
        if len(wanted) > self.max_services:
            raise TooManyServices(f"At most {self.max_services} services per appointment.")
        known = (await self.snapshot(tenant)).services
        missing = [str(i) for i in wanted if i not in known]
        if missing:
            raise ServiceNotFound(f"Not in the catalogue: {', '.join(missing)}.")
        return [known[i] for i in wanted]

    async def plans(
        self, tenant: str, services: Sequence[ServiceInfo], office_ids: Sequence[uuid.UUID]
    ) -> list[OfficePlan]:
        """Plans of the offices (all, or those named) offering every one of the services."""
        snapshot = await self.snapshot(tenant)
        wanted = set(office_ids)
        plans = []
        for office in sorted(snapshot.offices.values(), key=lambda o: str(o.id)):
            if wanted and office.id not in wanted:
                continue
            if any(service.id not in office.durations for service in services):
                continue
            minutes = sum(office.durations.get(s.id) or s.duration_minutes for s in services)
            rules = snapshot.rules.get(office.id, [])
            closures = snapshot.closures.get(office.id, [])
            holidays = snapshot.closed_days(office)
            hours_key = (office.time_zone, tuple(rules), tuple(closures), holidays)
            plans.append(
                OfficePlan(
                    office=office,
                    zone=ZoneInfo(office.time_zone),
                    length=timedelta(minutes=minutes),
                    step=timedelta(minutes=office.slot_minutes),
                    rules=rules,
                    closures=closures,
                    holidays=holidays,
                    opened=self.cache.opening_days(hours_key),
                    mode=(
                        "video"
                        if services and all(s.id in office.video for s in services)
                        else "in_person"
                    ),
                )
            )
        return plans

    async def full_units(
        self, plans: Sequence[OfficePlan], first_day: date, end_day: date, now: datetime
    ) -> FullUnits:
        if not plans:
            return set()
        start = min(day_bounds(first_day, p.zone)[0] for p in plans)
        end = max(day_bounds(end_day, p.zone)[0] for p in plans)
        return await self.bookings.full_units([p.office.id for p in plans], start, end, now)

    async def available_days(
        self,
        tenant: str,
        service_ids: Sequence[uuid.UUID],
        office_ids: Sequence[uuid.UUID],
        first_day: date,
        end_day: date,
        now: datetime,
    ) -> dict[date, list[uuid.UUID]]:
        """Each local day in ``[first_day, end_day)`` with a free slot: the offices having one."""
        services = await self.services_of(tenant, service_ids)
        plans = await self.plans(tenant, services, office_ids)
        # Only the part of the range that some office may book is worth a query.
        windows = [plan.window(now) for plan in plans]
        first = max(first_day, min((w[0] for w in windows), default=first_day))
        end = min(end_day, max((w[1] for w in windows), default=end_day))
        if first >= end:
            return {}
        full = await self.full_units(plans, first, end, now)
        days: dict[date, list[uuid.UUID]] = {}
        day = first
        while day < end:
            for plan, window in zip(plans, windows, strict=True):
                if plan.has_free_start(day, now, full, window):
                    days.setdefault(day, []).append(plan.office.id)
            day += timedelta(days=1)
        return days

    async def free_slots(
        self,
        tenant: str,
        service_ids: Sequence[uuid.UUID],
        office_ids: Sequence[uuid.UUID],
        day: date,
        now: datetime,
    ) -> list[Slot]:
        services = await self.services_of(tenant, service_ids)
        plans = await self.plans(tenant, services, office_ids)
        starts = {plan.office.id: plan.starts(day, now) for plan in plans}
        if not any(starts.values()):
            return []
        full = await self.full_units(plans, day, day + timedelta(days=1), now)
        slots = [
            Slot(plan.office.id, start, start + plan.length, plan.mode)
            for plan in plans
            for start in starts[plan.office.id]
            if plan.is_free(start, full)
        ]
        # By start, then by office id: the plans come ordered by office id, and the sort is
        # stable.
        return sorted(slots, key=itemgetter(1))

    async def plan_for(
        self, tenant: str, office_id: uuid.UUID, services: Sequence[ServiceInfo]
    ) -> OfficePlan:
        """The plan of one office; 404 when it does not exist or lacks one of the services."""
        if office_id not in (await self.snapshot(tenant)).offices:
            raise OfficeNotFound(f"Office {office_id} does not exist in this municipality.")
        plans = await self.plans(tenant, services, [office_id])
        if not plans:
            raise ServicesNotOffered(f"Office {office_id} does not offer all of these services.")
        return plans[0]

    @staticmethod
    def check_start(plan: OfficePlan, start: datetime, now: datetime) -> None:
        """422 unless ``start`` is one of the office's slot starts (free or not)."""
        horizon = timedelta(days=plan.office.bookable_until_days + 2)
        if not now - timedelta(days=2) < start < now + horizon or not plan.offers(
            start.astimezone(UTC), now
        ):
            raise SlotNotOffered(
                "The office offers no appointment for these services at this time: it is "
                "closed, outside the bookable window, in the past, or off the slot grid."
            )


class CachedAnswers:
    """Answers that only read (availability, the earliest appointment), cached per tenant.

    Built once per process. A miss computes its answer with a planner on a session of its own,
    opened only then: the cached path sets up no database work at all.
    """

    def __init__(self, cache: AvailabilityCache, database: Database, *, max_services: int) -> None:
        self.cache = cache
        self.database = database
        self.max_services = max_services

    async def answer(
        self, tenant: str, key: Hashable, compute: Callable[[], Awaitable[bytes]]
    ) -> bytes:
        return await self.cache.answer(tenant, key, compute)

    @asynccontextmanager
    async def planner(self) -> AsyncIterator[Planner]:
        async with self.database.sessionmaker() as session:
            yield Planner.on(session, self.cache, max_services=self.max_services)
