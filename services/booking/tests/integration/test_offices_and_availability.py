from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from booking.hours.models import Closure, Holiday
from servicekit.testing.tokens import TokenFactory

from ..factories import (
    BERLIN,
    OTHER_TENANT,
    TENANT,
    at,
    create_office,
    create_service,
    local_day,
    open_every_day,
)


def admin(tokens: TokenFactory) -> dict[str, str]:
    return tokens.headers(sub="admin-1", tenant=TENANT, roles=["admin"])


def local_times(slots: list[dict[str, str]]) -> list[str]:
    return [datetime.fromisoformat(s["start"]).astimezone(BERLIN).strftime("%H:%M") for s in slots]


async def slots_of(
    client: httpx.AsyncClient, day: date, *service_ids: object, office_ids: tuple[object, ...] = ()
) -> list[dict[str, str]]:
    params: list[tuple[str, str | int | float | bool | None]] = [
        ("service_id", str(i)) for i in service_ids
    ]
    params.append(("date", day.isoformat()))
    params += [("office_id", str(i)) for i in office_ids]
    response = await client.get(f"/booking/v1/tenants/{TENANT}/availability/slots", params=params)
    assert response.status_code == 200, response.text
    slots: list[dict[str, str]] = response.json()["slots"]
    return slots


async def test_admin_opens_office_with_services_and_opening_hours(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    service = await create_service(session, duration_minutes=20)
    office = await client.post(
        f"/booking/v1/tenants/{TENANT}/offices",
        json={
            "name": "Bürgerbüro Nord",
            "address": {"street": "Nordring 5", "postal_code": "64289", "city": "Musterstadt"},
            "location": {"latitude": 49.9, "longitude": 8.66},
            "counters": 3,
            "slot_minutes": 15,
            # The day below is counted from today, whatever the Land's calendar says.
            "opens_on_public_holidays": True,
            "services": [{"service_id": str(service.id), "duration_minutes": 30}],
        },
        headers=admin(tokens),
    )
    assert office.status_code == 201, office.text
    office_id = office.json()["id"]
    assert office.json()["services"] == [
        {"service_id": str(service.id), "duration_minutes": 30, "mode": "in_person"}
    ]

    hours = await client.put(
        f"/booking/v1/tenants/{TENANT}/offices/{office_id}/opening-hours",
        json={
            "rules": [
                {
                    "weekday": weekday,
                    "opens": "08:00",
                    "closes": "16:00",
                    "breaks": [{"start": "12:00", "end": "13:00"}],
                    "valid_from": "2020-01-01",
                }
                for weekday in range(1, 8)
            ]
        },
        headers=admin(tokens),
    )
    assert hours.status_code == 200, hours.text
    assert hours.json()["time_zone"] == "Europe/Berlin"

    day = local_day(3)
    slots = await slots_of(client, day, service.id)
    times = local_times(slots)
    assert times[0] == "08:00"
    assert "11:30" in times
    assert "11:45" not in times  # 30 minutes must end by the break
    assert "12:00" not in times
    assert "13:00" in times
    assert times[-1] == "15:30"
    first = slots[0]
    duration = datetime.fromisoformat(first["end"]) - datetime.fromisoformat(first["start"])
    assert duration == timedelta(minutes=30)
    assert (await client.get(f"/booking/v1/tenants/{TENANT}/offices")).json()["items"][0][
        "counters"
    ] == 3


async def test_office_offering_a_service_outside_the_catalogue_is_422(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    response = await client.post(
        f"/booking/v1/tenants/{TENANT}/offices",
        json={
            "name": "Bürgerbüro",
            "address": {"street": "Markt 1", "postal_code": "64283", "city": "Musterstadt"},
            "counters": 1,
            "services": [{"service_id": "6f1c7a34-37e2-4a0c-9d7e-2b9f1e0f1a11"}],
        },
        headers=admin(tokens),
    )

    assert response.status_code == 422
    assert response.json()["type"] == "urn:rathaus:problem:unknown-office-service"


async def test_unknown_time_zone_is_422(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    response = await client.post(
        f"/booking/v1/tenants/{TENANT}/offices",
        json={
            "name": "Bürgerbüro",
            "address": {"street": "Markt 1", "postal_code": "64283", "city": "Musterstadt"},
            "counters": 1,
            "time_zone": "Europe/Nowhere",
        },
        headers=admin(tokens),
    )

    assert response.status_code == 422


async def test_several_services_add_up_to_one_longer_slot(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    passport = await create_service(session, duration_minutes=20)
    registration = await create_service(session, duration_minutes=15)
    office = await create_office(session, passport, registration, durations={registration.id: 10})
    await open_every_day(session, office)

    slots = await slots_of(client, local_day(2), passport.id, registration.id)

    first = slots[0]
    length = datetime.fromisoformat(first["end"]) - datetime.fromisoformat(first["start"])
    assert length == timedelta(minutes=30)
    assert local_times(slots)[-1] == "11:30"


async def test_slots_of_several_offices_are_merged_and_filterable(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    service = await create_service(session)
    north = await create_office(session, service, name="Nord", slot_minutes=30)
    south = await create_office(session, service, name="Süd", slot_minutes=30)
    await open_every_day(session, north)
    await open_every_day(session, south, opens=datetime.min.time().replace(hour=9))
    day = local_day(2)

    both = await slots_of(client, day, service.id)
    only_south = await slots_of(client, day, service.id, office_ids=(south.id,))

    assert {s["office_id"] for s in both} == {str(north.id), str(south.id)}
    assert [s["start"] for s in both] == sorted(s["start"] for s in both)
    assert {s["office_id"] for s in only_south} == {str(south.id)}
    assert local_times(only_south)[0] == "09:00"


async def test_days_of_a_month_skip_holidays_closures_and_days_outside_the_window(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    service = await create_service(session)
    office = await create_office(session, service, bookable_from_days=1, bookable_until_days=40)
    await open_every_day(session, office)
    holiday = local_day(20)
    closed = local_day(21)
    session.add(Holiday(tenant=TENANT, day=holiday, name="Feiertag"))
    session.add(Closure(office_id=office.id, starts_at=at(closed, 0), ends_at=at(closed, 23)))
    await session.flush()
    today = local_day(0)
    months = sorted({(today + timedelta(days=n)).strftime("%Y-%m") for n in range(0, 45)})

    days: set[date] = set()
    for month in months:
        response = await client.get(
            f"/booking/v1/tenants/{TENANT}/availability/days",
            params={"service_id": str(service.id), "month": month},
        )
        assert response.status_code == 200, response.text
        for item in response.json()["days"]:
            assert item["office_ids"] == [str(office.id)]
            days.add(date.fromisoformat(item["date"]))

    assert today not in days
    assert local_day(1) in days
    assert local_day(39) in days
    assert local_day(40) not in days
    assert holiday not in days
    assert closed not in days
    assert len(days) == 37


async def test_availability_for_an_unknown_service_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get(
        f"/booking/v1/tenants/{TENANT}/availability/slots",
        params={"service_id": "6f1c7a34-37e2-4a0c-9d7e-2b9f1e0f1a11", "date": "2030-01-07"},
    )

    assert response.status_code == 404
    assert response.json()["type"] == "urn:rathaus:problem:service-not-found"


async def test_slots_on_the_dst_sundays_have_real_lengths_and_utc_instants(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    service = await create_service(session, duration_minutes=30)
    office = await create_office(session, service, slot_minutes=30, bookable_until_days=730)
    await open_every_day(
        session,
        office,
        opens=datetime.min.time().replace(hour=1),
        closes=datetime.min.time().replace(hour=4),
        weekdays=[7],
    )
    march = last_sunday(3)
    october = last_sunday(10)

    spring = await slots_of(client, march, service.id)
    autumn = await slots_of(client, october, service.id)

    assert local_times(spring) == ["01:00", "01:30", "03:00", "03:30"]
    assert instant(spring[2]["start"]) == datetime(march.year, 3, march.day, 1, 0, tzinfo=UTC)
    assert local_times(autumn) == [
        "01:00",
        "01:30",
        "02:00",
        "02:30",
        "02:00",
        "02:30",
        "03:00",
        "03:30",
    ]
    assert instant(autumn[0]["start"]) == datetime(
        october.year, 10, october.day - 1, 23, 0, tzinfo=UTC
    )
    assert instant(autumn[2]["start"]) == datetime(october.year, 10, october.day, 0, 0, tzinfo=UTC)
    assert instant(autumn[4]["start"]) == datetime(october.year, 10, october.day, 1, 0, tzinfo=UTC)
    for slot in spring + autumn:
        length = datetime.fromisoformat(slot["end"]) - datetime.fromisoformat(slot["start"])
        assert length == timedelta(minutes=30)


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def last_sunday(month: int) -> date:
    """The next last Sunday of ``month`` that lies in the future."""
    today = local_day(0)
    for year in (today.year, today.year + 1):
        day = date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)
        while day.isoweekday() != 7:
            day -= timedelta(days=1)
        if day > today:
            return day
    raise AssertionError("unreachable")


async def test_new_opening_hours_show_in_availability_at_once(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    service = await create_service(session)
    office = await create_office(session, service, slot_minutes=30)
    await open_every_day(session, office)
    day = local_day(2)
    assert local_times(await slots_of(client, day, service.id))[0] == "08:00"

    changed = await client.put(
        f"/booking/v1/tenants/{TENANT}/offices/{office.id}/opening-hours",
        json={
            "rules": [
                {"weekday": d, "opens": "10:00", "closes": "11:00", "valid_from": "2020-01-01"}
                for d in range(1, 8)
            ]
        },
        headers=admin(tokens),
    )

    assert changed.status_code == 200
    assert local_times(await slots_of(client, day, service.id)) == ["10:00", "10:30"]


async def test_availability_at_the_ends_of_the_calendar_is_422_not_500(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    # Dates are bounded in the request schema (servicekit.datetimes): out of range is 422.
    service = await create_service(session)
    office = await create_office(session, service)
    await open_every_day(session, office)

    for day in (date(1, 1, 1), date(9999, 12, 31)):
        response = await client.get(
            f"/booking/v1/tenants/{TENANT}/availability/slots",
            params={"service_id": str(service.id), "date": day.isoformat()},
        )
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["invalid_params"][0]["name"] == "query.date"


async def test_office_of_another_municipality_is_404(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    office = await create_office(session, tenant=OTHER_TENANT)
    response = await client.get(f"/booking/v1/tenants/{TENANT}/offices/{office.id}")
    assert response.status_code == 404
