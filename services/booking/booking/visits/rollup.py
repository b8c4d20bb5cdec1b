"""The KPI rollup: a closed day's figures per office and service, so that a period's KPIs read
one row per day instead of every appointment (a year of a district is a million visits).

How the KPIs of a period are made (:func:`kpi_figures`):

- the days up to the *watermark* of the tenant's offices in a time zone
  (:class:`~booking.visits.models.KpiWatermark`) come from :class:`~booking.visits.models.KpiDay`
  rows: one per office, local day and service, and one summing every office of the zone;
- the later days (today, the days ahead, and any day not closed yet) come from the
  appointments and visits themselves, as before.

Both sides are :class:`Figures`: sums, counts and histograms in tenths of a minute, so that the
nearest-rank median and 90th percentile of the summed histograms are the ones the visits give,
rounded to a tenth as the KPIs show them (rounding keeps the order of the values).

Who writes the rollup:

- :func:`close_days` (``rathaus-booking kpi-days``, nightly, and once after the migration to
  fill in the past) closes each day that is over and whose appointments have all ended,
  a week per transaction, and moves the watermark;
- :func:`refresh_day` rewrites a closed day when one of its visits changes afterwards (a visit
  completed after midnight, a rating), in the transaction of that change.

Every writer of a tenant's zone first locks its watermark row, so writers never interleave:
two clerks completing visits of the same closed day, or a rating arriving while the day is
being closed, each recompute the day from what the one before committed. A change that
bypasses the service (SQL by hand, a restore) needs ``kpi-days --rebuild``.
"""

from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from booking.hours.calendar import day_bounds
from booking.visits.models import EVERY
from booking.visits.repository import KpiDayRepository, Outcome, Period, Placed, Spread, Totals

CLOSE_DAYS = 7
"""How many days :func:`close_days` closes per transaction."""

_KINDS = ("waiting", "processing", "ratings")


def tenths(value: float) -> int:
    """``value`` in tenths, rounded as the KPIs round it (``round(value, 1)``)."""
    return round(round(value, 1) * 10)


def _minutes(delta: timedelta) -> float:
    return delta.total_seconds() / 60


@dataclass
class Figures:
    """What the KPIs of some appointments are made of; figures of disjoint sets add up."""

    appointments: int = 0
    ended: int = 0
    checked_in: int = 0
    walk_ins: int = 0
    no_shows: int = 0
    completed: int = 0
    resolved: int = 0
    waiting_minutes: float = 0.0
    processing_minutes: float = 0.0
    rating_total: float = 0.0
    saved_minutes: float = 0.0
    video_appointments: int = 0
    video_completed: int = 0
    video_minutes: float = 0.0
    waiting: Counter[int] = field(default_factory=Counter)
    processing: Counter[int] = field(default_factory=Counter)
    ratings: Counter[int] = field(default_factory=Counter)

    def count(self, day: Outcome, now: datetime) -> None:
        """Add one appointment (its visit, if any), as ``totals_of`` counts it."""
        if day.walk_in:
            self.walk_ins += 1
        else:
            self.appointments += 1
            if day.ends_at <= now:
                self.ended += 1
                self.no_shows += day.checked_in_at is None
            if day.mode == "video":
                self.video_appointments += 1
        if day.checked_in_at is None:
            return
        self.checked_in += not day.walk_in
        if day.called_at is not None:
            since = max(day.checked_in_at, day.starts_at)
            waited = max(_minutes(day.called_at - since), 0.0)
            self.waiting[tenths(waited)] += 1
            self.waiting_minutes += waited
            if day.completed_at is not None:
                self.completed += 1
                self.resolved += bool(day.resolved)
                spent = _minutes(day.completed_at - day.called_at)
                self.processing[tenths(spent)] += 1
                self.processing_minutes += spent
                self.saved_minutes += max(_minutes(day.ends_at - day.starts_at) - spent, 0.0)
                if not day.walk_in and day.mode == "video":
                    self.video_completed += 1
                    self.video_minutes += spent
        if day.rating is not None:
            self.ratings[tenths(day.rating)] += 1
            self.rating_total += day.rating

    def add(self, other: Figures) -> None:
        for each in _FIELDS:
            mine, theirs = getattr(self, each.name), getattr(other, each.name)
            if isinstance(mine, Counter):
                mine.update(theirs)
            else:
                setattr(self, each.name, mine + theirs)

    def row(self) -> dict[str, Any]:
        """The columns of a :class:`KpiDay` (histograms keyed by text, as JSON has it)."""
        values: dict[str, Any] = {}
        for each in _FIELDS:
            value = getattr(self, each.name)
            values[each.name] = (
                {str(key): count for key, count in sorted(value.items())}
                if isinstance(value, Counter)
                else value
            )
        return values

    @classmethod
    def of_row(cls, row: dict[str, Any]) -> Figures:
        values: dict[str, Any] = {}
        for each in _FIELDS:
            value = row[each.name]
            values[each.name] = (
                Counter({int(key): count for key, count in value.items()})
                if each.name in _KINDS
                else value
            )
        return cls(**values)

    def totals(self) -> Totals:
        return Totals(
            appointments=self.appointments,
            ended=self.ended,
            checked_in=self.checked_in,
            walk_ins=self.walk_ins,
            no_shows=self.no_shows,
            completed=self.completed,
            resolved=self.resolved,
            waiting=_spread(self.waiting, self.waiting_minutes),
            processing=_spread(self.processing, self.processing_minutes),
            ratings=_spread(self.ratings, self.rating_total),
            saved_minutes=self.saved_minutes,
        )


_FIELDS = fields(Figures)


def _spread(histogram: Counter[int], total: float) -> Spread:
    """Count, sum and the nearest-rank median and 90th percentile of a histogram in tenths."""
    count = sum(histogram.values())
    if not count:
        return Spread(count=0, total=0.0, p50=None, p90=None)
    ordered = sorted(histogram.items())

    def rank(share: float) -> float:
        wanted = max(math.ceil(share * count) - 1, 0)
        seen = 0
        for value, times in ordered:
            seen += times
            if seen > wanted:
                return value / 10
        raise AssertionError("a rank within the count")  # pragma: no cover

    return Spread(count=count, total=total, p50=rank(0.5), p90=rank(0.9))


def _local_day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def _rows(
    tenant: str,
    zone_name: str,
    placed: Iterable[Placed],
    services: Iterable[tuple[uuid.UUID, uuid.UUID]],
    now: datetime,
    *,
    every_office: bool,
) -> list[dict[str, Any]]:
    """The rollup rows of some appointments: per office, day and service (and per day and
    service over every office, if ``every_office``), each also over every service."""
    zone = ZoneInfo(zone_name)
    booked: dict[uuid.UUID, list[uuid.UUID]] = {}
    for booking_id, service_id in services:
        booked.setdefault(booking_id, []).append(service_id)
    figures: dict[tuple[uuid.UUID, uuid.UUID, date], Figures] = {}
    for each in placed:
        day = _local_day(each.outcome.starts_at, zone)
        for service_id in (EVERY, *booked.get(each.booking_id, ())):
            key = (each.office_id, service_id, day)
            found = figures.get(key)
            if found is None:
                found = figures[key] = Figures()
            found.count(each.outcome, now)
    if every_office:
        offices = list(figures.items())
        for (_, service_id, day), found in offices:
            key = (EVERY, service_id, day)
            every = figures.get(key)
            if every is None:
                every = figures[key] = Figures()
            every.add(found)
    return [
        {
            "tenant": tenant,
            "time_zone": zone_name,
            "office_id": office_id,
            "service_id": service_id,
            "day": day,
            **found.row(),
        }
        for (office_id, service_id, day), found in figures.items()
    ]


def _period(office_ids: Sequence[uuid.UUID], zone: ZoneInfo, first: date, last: date) -> Period:
    return Period(office_ids, day_bounds(first, zone)[0], day_bounds(last, zone)[1])


async def close_days(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    tenant: str | None = None,
    rebuild: bool = False,
) -> int:
    """Close the days that are over (of ``tenant``, or of all tenants): write their rollup and
    move the watermark; with ``rebuild``, drop the rollup first and close every day again.
    How many days (per tenant and time zone) it closed. Safe to run in parallel and again."""
    async with sessionmaker() as session:
        repository = KpiDayRepository(session)
        tenants = [tenant] if tenant else list(await repository.tenants())
        zones = {current: await repository.zones(current) for current in tenants}
    closed = 0
    for current, offices in zones.items():
        for zone_name, office_ids in offices.items():
            if rebuild:
                async with sessionmaker() as session, session.begin():
                    repository = KpiDayRepository(session)
                    await repository.lock_watermark(current, zone_name)
                    await repository.replace_days(current, zone_name, None, date.min, date.max, [])
                    await repository.set_watermark(current, zone_name, None)
            while True:
                async with sessionmaker() as session, session.begin():
                    count = await close_next_days(
                        KpiDayRepository(session), current, zone_name, office_ids, now
                    )
                closed += count
                if count == 0:
                    break
    return closed


async def close_next_days(
    repository: KpiDayRepository,
    tenant: str,
    zone_name: str,
    office_ids: Sequence[uuid.UUID],
    now: datetime,
) -> int:
    """Close up to :data:`CLOSE_DAYS` days after the watermark; how many it closed."""
    zone = ZoneInfo(zone_name)
    mark = await repository.lock_watermark(tenant, zone_name)
    last = _local_day(now, zone) - timedelta(days=1)
    if mark is None:
        first_start = await repository.first_start(tenant, office_ids)
        if first_start is None:
            return 0  # nothing to close yet: the first day is the first appointment's
        first = _local_day(first_start, zone)
    else:
        first = mark + timedelta(days=1)
    if first > last:
        return 0
    through = min(first + timedelta(days=CLOSE_DAYS - 1), last)
    period = [_period(office_ids, zone, first, through)]
    placed = await repository.outcomes(tenant, period)
    # A day closes once every appointment of it has ended (its figures will not change by
    # themselves any more); those of later days wait for the next run.
    running = [
        _local_day(each.outcome.starts_at, zone)
        for each in placed
        if not each.outcome.walk_in and each.outcome.ends_at > now
    ]
    if running:
        through = min(running) - timedelta(days=1)
        if through < first:
            return 0
        placed = [each for each in placed if _local_day(each.outcome.starts_at, zone) <= through]
    services = await repository.services_booked(tenant, period)
    rows = _rows(tenant, zone_name, placed, services, now, every_office=True)
    await repository.replace_days(tenant, zone_name, None, first, through, rows)
    await repository.set_watermark(tenant, zone_name, through)
    return (through - first).days + 1


async def refresh_day(
    repository: KpiDayRepository,
    tenant: str,
    zone_name: str,
    office_id: uuid.UUID,
    starts_at: datetime,
    now: datetime,
) -> None:
    """After a change to an appointment of ``office_id`` starting at ``starts_at`` (flushed in
    this transaction): rewrite its day's rollup if that day is closed already."""
    zone = ZoneInfo(zone_name)
    mark = await repository.lock_watermark(tenant, zone_name)
    day = _local_day(starts_at, zone)
    if mark is None or day > mark:
        return  # not closed: the KPIs count it from the visits
    period = [_period([office_id], zone, day, day)]
    rows = _rows(
        tenant,
        zone_name,
        await repository.outcomes(tenant, period),
        await repository.services_booked(tenant, period),
        now,
        every_office=False,
    )
    await repository.replace_days(tenant, zone_name, [office_id], day, day, rows)
    # The zone's row of the day: the sum of its offices' rows, this one's included.
    every: dict[uuid.UUID, Figures] = {}
    for row in await repository.offices_days(tenant, zone_name, day):
        every.setdefault(row["service_id"], Figures()).add(Figures.of_row(row))
    await repository.replace_days(
        tenant,
        zone_name,
        [EVERY],
        day,
        day,
        [
            {
                "tenant": tenant,
                "time_zone": zone_name,
                "office_id": EVERY,
                "service_id": service_id,
                "day": day,
                **found.row(),
            }
            for service_id, found in every.items()
        ],
    )


async def kpi_figures(
    repository: KpiDayRepository,
    tenant: str,
    zones: dict[str, list[uuid.UUID]],
    *,
    every_office: bool,
    first: date,
    last: date,
    service_id: uuid.UUID | None,
    now: datetime,
) -> Figures:
    """The figures of the confirmed appointments of ``zones``' offices (time zone: office ids)
    on the local days ``first`` to ``last``, those including ``service_id`` if given:
    closed days from the rollup (the zone's row if ``every_office``), the others counted."""
    found = Figures()
    periods: list[Period] = []
    for zone_name, office_ids in zones.items():
        zone = ZoneInfo(zone_name)
        mark = await repository.closed_through(tenant, zone_name)
        counted_from = first
        if mark is not None and mark >= first:
            for row in await repository.days(
                tenant,
                zone_name,
                [EVERY] if every_office else office_ids,
                service_id or EVERY,
                first,
                min(last, mark),
            ):
                found.add(Figures.of_row(row))
            counted_from = mark + timedelta(days=1)
        if counted_from <= last:
            periods.append(_period(office_ids, zone, counted_from, last))
    if periods:
        for each in await repository.outcomes(tenant, periods, service_id):
            found.count(each.outcome, now)
    return found
