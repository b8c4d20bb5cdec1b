"""Opening hours as UTC intervals: the pure arithmetic behind availability.

Rules are written in the office's local wall time; a local day becomes half-open UTC
intervals ``[start, end)`` through the office's zone, so a day of a DST change has 23 or 25
hours and slots are stepped in real (UTC) minutes. A local time that does not exist (the hour
skipped in March) maps forward as ``zoneinfo`` does with ``fold=0``; an ambiguous one (the hour
repeated in October) means its first occurrence.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class WeeklyRule:
    weekday: int  # ISO: 1 = Monday ... 7 = Sunday
    opens: time
    closes: time
    breaks: tuple[tuple[time, time], ...]
    valid_from: date
    valid_until: date | None  # exclusive

    def applies_to(self, day: date) -> bool:
        return (
            day.isoweekday() == self.weekday
            and self.valid_from <= day
            and (self.valid_until is None or day < self.valid_until)
        )


def local_to_utc(day: date, wall: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, wall, tzinfo=zone).astimezone(UTC)


def day_bounds(day: date, zone: ZoneInfo) -> Interval:
    """The local calendar day as a UTC interval (23, 24 or 25 hours long)."""
    return local_to_utc(day, time(0), zone), local_to_utc(day + timedelta(days=1), time(0), zone)


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[0] < i[1]):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def subtract(intervals: Sequence[Interval], holes: Iterable[Interval]) -> list[Interval]:
    result = list(intervals)
    for hole_start, hole_end in holes:
        pieces: list[Interval] = []
        for start, end in result:
            if hole_end <= start or end <= hole_start:
                pieces.append((start, end))
                continue
            if start < hole_start:
                pieces.append((start, hole_start))
            if hole_end < end:
                pieces.append((hole_end, end))
        result = pieces
    return result


def open_intervals(
    day: date,
    zone: ZoneInfo,
    rules: Iterable[WeeklyRule],
    closures: Iterable[Interval] = (),
    holidays: frozenset[date] = frozenset(),
) -> list[Interval]:
    """When the office is open on a local day, as sorted, disjoint UTC intervals."""
    if day in holidays:
        return []
    periods: list[Interval] = []
    for rule in rules:
        if not rule.applies_to(day):
            continue
        opened = [(local_to_utc(day, rule.opens, zone), local_to_utc(day, rule.closes, zone))]
        breaks = [
            (local_to_utc(day, start, zone), local_to_utc(day, end, zone))
            for start, end in rule.breaks
        ]
        periods.extend(subtract(opened, breaks))
    return subtract(merge(periods), closures)


def slot_starts(
    periods: Iterable[Interval], step: timedelta, length: timedelta
) -> Iterator[datetime]:
    """Start instants every ``step`` from each period's start where ``length`` still fits."""
    for start, end in periods:
        current = start
        while current + length <= end:
            yield current
            current += step


def units_of(start: datetime, length: timedelta, step: timedelta) -> list[datetime]:
    """The grid units an appointment ``[start, start + length)`` occupies."""
    count = -(-length // step)
    return [start + step * index for index in range(count)]
