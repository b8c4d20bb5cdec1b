from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from booking.availability.cache import OfficeInfo
from booking.availability.service import OfficePlan
from booking.hours.calendar import (
    WeeklyRule,
    day_bounds,
    merge,
    open_intervals,
    slot_starts,
    subtract,
    units_of,
)
from booking.hours.public_holidays import holidays_of_land, land_of, public_holidays
from booking.language import negotiate

BERLIN = ZoneInfo("Europe/Berlin")
MARCH_DST = date(2027, 3, 28)  # last Sunday of March: 02:00 CET -> 03:00 CEST
OCTOBER_DST = date(2027, 10, 31)  # last Sunday of October: 03:00 CEST -> 02:00 CET


def rule(weekday: int, opens: time, closes: time, *breaks: tuple[time, time]) -> WeeklyRule:
    return WeeklyRule(
        weekday=weekday,
        opens=opens,
        closes=closes,
        breaks=breaks,
        valid_from=date(2020, 1, 1),
        valid_until=None,
    )


def test_dst_days_are_23_and_25_hours_long() -> None:
    start, end = day_bounds(MARCH_DST, BERLIN)
    assert end - start == timedelta(hours=23)
    start, end = day_bounds(OCTOBER_DST, BERLIN)
    assert end - start == timedelta(hours=25)


def test_march_change_opening_hours_are_two_real_hours_shorter_than_local_reading() -> None:
    periods = open_intervals(MARCH_DST, BERLIN, [rule(7, time(1), time(4))])

    assert periods == [
        (datetime(2027, 3, 28, 0, 0, tzinfo=UTC), datetime(2027, 3, 28, 2, 0, tzinfo=UTC))
    ]
    starts = list(slot_starts(periods, timedelta(minutes=30), timedelta(minutes=30)))
    local = [s.astimezone(BERLIN).strftime("%H:%M") for s in starts]
    assert local == ["01:00", "01:30", "03:00", "03:30"]


def test_october_change_repeats_the_local_hour_with_distinct_instants() -> None:
    periods = open_intervals(OCTOBER_DST, BERLIN, [rule(7, time(1), time(4))])

    assert periods == [
        (datetime(2027, 10, 30, 23, 0, tzinfo=UTC), datetime(2027, 10, 31, 3, 0, tzinfo=UTC))
    ]
    starts = list(slot_starts(periods, timedelta(minutes=30), timedelta(minutes=30)))
    assert len(starts) == 8
    assert len(set(starts)) == 8
    local = [s.astimezone(BERLIN).strftime("%H:%M") for s in starts]
    assert local.count("02:00") == 2
    assert local.count("02:30") == 2


def test_breaks_and_closures_cut_opening_hours_half_open() -> None:
    day = date(2027, 1, 11)  # Monday
    closure = (
        datetime(2027, 1, 11, 14, 0, tzinfo=UTC),  # 15:00 local
        datetime(2027, 1, 11, 15, 0, tzinfo=UTC),
    )
    periods = open_intervals(
        day, BERLIN, [rule(1, time(8), time(17), (time(12), time(13)))], [closure]
    )

    local = [(a.astimezone(BERLIN).time(), b.astimezone(BERLIN).time()) for a, b in periods]
    assert local == [(time(8), time(12)), (time(13), time(15)), (time(16), time(17))]


def test_holiday_closes_the_day_and_validity_is_half_open() -> None:
    day = date(2027, 1, 11)
    ending = WeeklyRule(1, time(8), time(12), (), date(2020, 1, 1), day)
    assert open_intervals(day, BERLIN, [ending]) == []
    assert (
        open_intervals(day, BERLIN, [rule(1, time(8), time(12))], holidays=frozenset({day})) == []
    )


def test_slots_fit_entirely_before_closing() -> None:
    start = datetime(2027, 1, 11, 7, tzinfo=UTC)
    periods = [(start, start + timedelta(minutes=60))]

    starts = list(slot_starts(periods, timedelta(minutes=15), timedelta(minutes=40)))

    assert starts == [start, start + timedelta(minutes=15)]
    assert units_of(start, timedelta(minutes=40), timedelta(minutes=15)) == [
        start,
        start + timedelta(minutes=15),
        start + timedelta(minutes=30),
    ]


def test_merge_and_subtract() -> None:
    t = [datetime(2027, 1, 1, h, tzinfo=UTC) for h in range(6)]
    assert merge([(t[2], t[4]), (t[0], t[2]), (t[3], t[5])]) == [(t[0], t[5])]
    assert subtract([(t[0], t[5])], [(t[1], t[2]), (t[3], t[4])]) == [
        (t[0], t[1]),
        (t[2], t[3]),
        (t[4], t[5]),
    ]


def test_accept_language_picks_the_preferred_supported_language() -> None:
    assert negotiate(None) == "de"
    assert negotiate("en-GB,en;q=0.9,de;q=0.8") == "en"
    assert negotiate("fr, de;q=0.5, en;q=0.4") == "de"
    assert negotiate("fr") == "de"
    assert negotiate("en;q=0, de") == "de"
    assert negotiate("*") == "de"


def _plan(
    length: int,
    step: int,
    closures: list[tuple[datetime, datetime]],
    *,
    rules: list[WeeklyRule] | None = None,
    holidays: frozenset[date] = frozenset(),
) -> OfficePlan:
    office = OfficeInfo(
        id=uuid.uuid4(),
        tenant="06999001",
        name="Bürgerbüro",
        street="Markt 1",
        postal_code="12345",
        city="Musterstadt",
        time_zone="Europe/Berlin",
        counters=2,
        slot_minutes=step,
        bookable_from_days=0,
        bookable_until_days=400,
        opens_on_public_holidays=False,
        durations={},
    )
    return OfficePlan(
        office=office,
        zone=BERLIN,
        length=timedelta(minutes=length),
        step=timedelta(minutes=step),
        rules=rules
        or [
            rule(weekday, time(1), time(12, 10), (time(9, 5), time(9, 50)))
            for weekday in range(1, 8)
        ],
        closures=closures,
        holidays=holidays,
    )


def test_a_plan_offers_exactly_the_starts_it_lists() -> None:
    # Every 5 minutes of two DST days and an ordinary one, for slots that fit the grid and
    # slots longer than a step, around a break, a closure and "now": the check that a hold
    # makes agrees with the list that availability shows.
    now = datetime(2027, 3, 27, 10, 2, tzinfo=UTC)
    closure = (datetime(2027, 10, 31, 7, 0, tzinfo=UTC), datetime(2027, 10, 31, 7, 40, tzinfo=UTC))
    for length, step in [(15, 15), (20, 10), (45, 30)]:
        plan = _plan(length, step, [closure])
        for day in (date(2027, 3, 27), MARCH_DST, OCTOBER_DST):
            listed = set(plan.starts(day, now))
            start, end = day_bounds(day, BERLIN)
            every = timedelta(minutes=5)
            candidates = [start + every * n for n in range((end - start) // every)]
            offered = {t for t in candidates if plan.offers(t, now)}
            assert listed, (length, step, day)
            assert offered == listed, (length, step, day)


def test_the_land_comes_from_the_ags_and_its_holidays_from_the_package() -> None:
    assert [land_of(ags) for ags in ("01001000", "06999001", "09162000", "16051000")] == [
        "SH",
        "HE",
        "BY",
        "TH",
    ]
    hessen = public_holidays("06999001", [2026])
    assert hessen[date(2026, 12, 25)] == "Erster Weihnachtstag"
    assert date(2026, 12, 26) in hessen
    assert date(2026, 6, 4) in hessen  # Fronleichnam
    assert date(2026, 6, 4) not in public_holidays("03241001", [2026])  # not in Niedersachsen
    assert date(2026, 1, 6) in public_holidays("09162000", [2026])  # Heilige Drei Könige
    assert date(2026, 1, 6) not in hessen
    assert holidays_of_land("HE", 2026) is holidays_of_land("HE", 2026)  # once per Land and year


def test_a_holiday_closes_its_local_day_also_across_utc_midnight_and_dst() -> None:
    # Open 00:00-03:00 local: the first slots of a day lie on the UTC day before. Easter Sunday
    # 2027 is the March DST day and a public holiday in Brandenburg, not in Hessen; Good Friday
    # (26 March) is one in both, and its UTC evening is the local Saturday.
    night = [rule(weekday, time(0), time(3)) for weekday in range(1, 8)]
    now = datetime(2027, 3, 20, 12, 0, tzinfo=UTC)
    brandenburg = frozenset(public_holidays("12051000", [2027]))
    hessen = frozenset(public_holidays("06999001", [2027]))
    in_brandenburg = _plan(30, 30, [], rules=night, holidays=brandenburg)
    in_hessen = _plan(30, 30, [], rules=night, holidays=hessen)

    assert in_brandenburg.starts(MARCH_DST, now) == []
    assert not in_brandenburg.offers(datetime(2027, 3, 27, 23, 0, tzinfo=UTC), now)
    saturday = in_brandenburg.starts(date(2027, 3, 27), now)
    assert saturday[0] == datetime(2027, 3, 26, 23, 0, tzinfo=UTC)  # 00:00 CET, UTC's Friday
    assert all(in_brandenburg.offers(start, now) for start in saturday)
    assert in_brandenburg.starts(date(2027, 3, 26), now) == []

    easter_sunday = in_hessen.starts(MARCH_DST, now)
    assert easter_sunday == [
        datetime(2027, 3, 27, 23, 0, tzinfo=UTC),
        datetime(2027, 3, 27, 23, 30, tzinfo=UTC),
        datetime(2027, 3, 28, 0, 0, tzinfo=UTC),
        datetime(2027, 3, 28, 0, 30, tzinfo=UTC),
    ]  # 00:00-02:00 CET, then 03:00 CEST is already the closing time
    assert all(in_hessen.offers(start, now) for start in easter_sunday)
    assert in_hessen.starts(date(2027, 3, 29), now) == []  # Ostermontag, everywhere
