"""Free slots from opening hours, durations and counter capacity.

A :class:`Planner` loads what one question needs (offices offering every requested service,
their rules, closures and holidays, and the seats in use) with a handful of queries, then
answers it in memory. The same plan validates a requested start time when a slot is held.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

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
from booking.hours.repository import HoursRepository
from booking.hours.schemas import weekly_rule
from booking.offices.errors import OfficeNotFound
from booking.offices.models import Office
from booking.offices.repository import OfficeRepository

Usage = Mapping[tuple[uuid.UUID, datetime], int]


@dataclass
class OfficePlan:
    office: Office
    zone: ZoneInfo
    length: timedelta
    step: timedelta
    rules: list[WeeklyRule] = field(default_factory=list)
    closures: list[Interval] = field(default_factory=list)
    holidays: frozenset[date] = frozenset()

    @property
    def capacity(self) -> int:
        return self.office.counters

    def today(self, now: datetime) -> date:
        return now.astimezone(self.zone).date()

    def window(self, now: datetime) -> tuple[date, date]:
        """Bookable local days ``[first, end)``."""
        today = self.today(now)
        return (
            today + timedelta(days=self.office.bookable_from_days),
            today + timedelta(days=self.office.bookable_until_days),
        )

    def starts(self, day: date, now: datetime) -> list[datetime]:
        first, end = self.window(now)
        if not first <= day < end:
            return []
        periods = open_intervals(day, self.zone, self.rules, self.closures, self.holidays)
        return [s for s in slot_starts(periods, self.step, self.length) if s > now]

    def units(self, start: datetime) -> list[datetime]:
        return units_of(start, self.length, self.step)

    def is_free(self, start: datetime, usage: Usage) -> bool:
        office_id = self.office.id
        return all(usage.get((office_id, u), 0) < self.capacity for u in self.units(start))

    def local_day(self, instant: datetime) -> date:
        return instant.astimezone(self.zone).date()


@dataclass(frozen=True)
class Slot:
    office_id: uuid.UUID
    start: datetime
    end: datetime


class Planner:
    def __init__(
        self,
        services: ServiceRepository,
        offices: OfficeRepository,
        hours: HoursRepository,
        bookings: BookingRepository,
        *,
        max_services: int,
    ) -> None:
        self.services = services
        self.offices = offices
        self.hours = hours
        self.bookings = bookings
        self.max_services = max_services

    async def services_of(self, tenant: str, service_ids: Sequence[uuid.UUID]) -> list[Service]:
        """The requested services in the requested order; 404 for one not in the catalogue."""
        wanted = list(dict.fromkeys(service_ids))
        if not wanted:
            raise TooManyServices("Name at least one service.")
        if len(wanted) > self.max_services:
            raise TooManyServices(f"At most {self.max_services} services per appointment.")
        found = {s.id: s for s in await self.services.get_many(tenant, wanted)}
        missing = [str(i) for i in wanted if i not in found]
        if missing:
            raise ServiceNotFound(f"Not in the catalogue: {', '.join(missing)}.")
        return [found[i] for i in wanted]

    async def plans(
        self,
        tenant: str,
        services: Sequence[Service],
        office_ids: Sequence[uuid.UUID],
        first_day: date,
        end_day: date,
    ) -> list[OfficePlan]:
        """Plans for the offices offering every service, for local days ``[first_day, end_day)``."""
        offices = await self.offices.list(
            tenant, offering=[s.id for s in services], office_ids=office_ids
        )
        if not offices:
            return []
        plans: list[OfficePlan] = []
        for office in offices:
            zone = ZoneInfo(office.time_zone)
            overrides = {o.service_id: o.duration_minutes for o in office.services}
            minutes = sum(overrides.get(s.id) or s.duration_minutes for s in services)
            plans.append(
                OfficePlan(
                    office=office,
                    zone=zone,
                    length=timedelta(minutes=minutes),
                    step=timedelta(minutes=office.slot_minutes),
                )
            )
        ids = [plan.office.id for plan in plans]
        by_office: dict[uuid.UUID, OfficePlan] = {plan.office.id: plan for plan in plans}
        for rule in await self.hours.rules(ids):
            by_office[rule.office_id].rules.append(weekly_rule(rule))
        # A day of slack on both sides covers every zone's local day.
        start = datetime.combine(first_day - timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        end = datetime.combine(end_day + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        for closure in await self.hours.closures(ids, start, end):
            by_office[closure.office_id].closures.append((closure.starts_at, closure.ends_at))
        holidays = frozenset(h.day for h in await self.hours.holidays(tenant, first_day, end_day))
        for plan in plans:
            plan.holidays = holidays
        return plans

    async def usage(
        self, plans: Sequence[OfficePlan], first_day: date, end_day: date, now: datetime
    ) -> Usage:
        if not plans:
            return {}
        start = min(day_bounds(first_day, p.zone)[0] for p in plans)
        end = max(day_bounds(end_day, p.zone)[0] for p in plans)
        return await self.bookings.usage([p.office.id for p in plans], start, end, now)

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
        plans = await self.plans(tenant, services, office_ids, first_day, end_day)
        usage = await self.usage(plans, first_day, end_day, now)
        days: dict[date, list[uuid.UUID]] = {}
        day = first_day
        while day < end_day:
            for plan in plans:
                if any(plan.is_free(s, usage) for s in plan.starts(day, now)):
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
        end_day = day + timedelta(days=1)
        plans = await self.plans(tenant, services, office_ids, day, end_day)
        usage = await self.usage(plans, day, end_day, now)
        slots = [
            Slot(office_id=plan.office.id, start=start, end=start + plan.length)
            for plan in plans
            for start in plan.starts(day, now)
            if plan.is_free(start, usage)
        ]
        return sorted(slots, key=lambda s: (s.start, str(s.office_id)))

    async def plan_for(
        self, tenant: str, office_id: uuid.UUID, services: Sequence[Service], start: datetime
    ) -> OfficePlan:
        """The plan of one office around ``start``; 404 when it does not offer the services."""
        if await self.offices.get(tenant, office_id) is None:
            raise OfficeNotFound(f"Office {office_id} does not exist in this municipality.")
        day = start.astimezone(UTC).date()
        plans = await self.plans(
            tenant, services, [office_id], day - timedelta(days=1), day + timedelta(days=2)
        )
        if not plans:
            raise ServicesNotOffered(f"Office {office_id} does not offer all of these services.")
        return plans[0]

    @staticmethod
    def check_start(plan: OfficePlan, start: datetime, now: datetime) -> None:
        """422 unless ``start`` is one of the office's slot starts (free or not)."""
        if start not in plan.starts(plan.local_day(start), now):
            raise SlotNotOffered(
                "The office offers no appointment for these services at this time: it is "
                "closed, outside the bookable window, in the past, or off the slot grid."
            )
