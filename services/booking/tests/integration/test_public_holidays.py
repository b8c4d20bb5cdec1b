"""The Land's public holidays: no slots on them, unless an office opens on them.

The days come from the real calendar (today's), so each test looks for the holiday it needs
in the coming year.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from booking.catalogue.models import Service
from booking.hours.models import OpeningRule
from booking.hours.public_holidays import LAND_OF_AGS_PREFIX, public_holidays
from booking.offices.models import Office
from servicekit.testing.tokens import TokenFactory

from ..factories import (
    TENANT,
    at,
    book,
    create_office,
    create_service,
    hold,
    local_day,
    open_every_day,
)

NIEDERSACHSEN = "03999001"


def is_holiday(ags: str, day: date) -> bool:
    return day in public_holidays(ags, [day.year])


def first_holiday(ags: str, *, not_in: str | None = None, within: int = 366) -> date | None:
    """The first public holiday of the AGS's Land from the day after tomorrow on (today and
    tomorrow are left alone: "now" cuts into them) within ``within`` days, optionally one that
    ``not_in``'s Land does not keep."""
    for ahead in range(2, within):
        day = local_day(ahead)
        if is_holiday(ags, day) and (not_in is None or not is_holiday(not_in, day)):
            return day
    return None


def next_holiday(ags: str, *, not_in: str | None = None) -> date:
    day = first_holiday(ags, not_in=not_in)
    assert day is not None, "every Land has holidays within a year (and Hessen Fronleichnam)"
    return day


def working_day_after(ags: str, day: date) -> date:
    while is_holiday(ags, day):
        day += timedelta(days=1)
    return day


def admin(tokens: TokenFactory, tenant: str = TENANT) -> dict[str, str]:
    return tokens.headers(sub="admin-1", tenant=tenant, roles=["admin"])


async def slots(
    client: httpx.AsyncClient, office: Office, service_id: object, day: date
) -> list[dict[str, Any]]:
    response = await client.get(
        f"/booking/v1/tenants/{office.tenant}/availability/slots",
        params={
            "service_id": str(service_id),
            "date": day.isoformat(),
            "office_id": str(office.id),
        },
    )
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["slots"]
    return found


async def days_of_month(
    client: httpx.AsyncClient, office: Office, service_id: object, day: date
) -> set[date]:
    response = await client.get(
        f"/booking/v1/tenants/{office.tenant}/availability/days",
        params={"service_id": str(service_id), "month": day.strftime("%Y-%m")},
    )
    assert response.status_code == 200, response.text
    return {date.fromisoformat(item["date"]) for item in response.json()["days"]}


async def closed_office(session: AsyncSession, tenant: str = TENANT) -> tuple[Office, Service]:
    """An office open every day 08:00-12:00 for a year, closed on the Land's holidays."""
    service = await create_service(session, tenant=tenant)
    office = await create_office(
        session, service, tenant=tenant, bookable_until_days=400, opens_on_public_holidays=False
    )
    await open_every_day(session, office)
    return office, service


async def test_a_holiday_of_hessen_has_no_slots_where_the_same_day_is_none_it_has(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    day = next_holiday(TENANT, not_in=NIEDERSACHSEN)  # Fronleichnam
    hessian, in_hessen = await closed_office(session)
    lower_saxon, in_niedersachsen = await closed_office(session, NIEDERSACHSEN)
    after = working_day_after(TENANT, day + timedelta(days=1))

    assert await slots(client, hessian, in_hessen.id, day) == []
    assert day not in await days_of_month(client, hessian, in_hessen.id, day)
    assert len(await slots(client, hessian, in_hessen.id, after)) == 23
    assert len(await slots(client, lower_saxon, in_niedersachsen.id, day)) == 23
    assert day in await days_of_month(client, lower_saxon, in_niedersachsen.id, day)


async def test_an_office_that_opens_on_public_holidays_has_slots_but_not_on_declared_ones(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    day = next_holiday(TENANT)
    service = await create_service(session)
    created = await client.post(
        f"/booking/v1/tenants/{TENANT}/offices",
        json={
            "name": "Bürgerbüro am Bahnhof",
            "address": {"street": "Bahnhofplatz 1", "postal_code": "64283", "city": "Musterstadt"},
            "counters": 1,
            "bookable_until_days": 400,
            "opens_on_public_holidays": True,
            "services": [{"service_id": str(service.id)}],
        },
        headers=admin(tokens),
    )
    assert created.status_code == 201, created.text
    assert created.json()["opens_on_public_holidays"] is True
    office = await session.get(Office, uuid.UUID(created.json()["id"]))
    assert office is not None
    await open_every_day(session, office)

    assert len(await slots(client, office, service.id, day)) == 23
    assert day in await days_of_month(client, office, service.id, day)

    declared = await client.put(
        f"/booking/v1/tenants/{TENANT}/holidays/{day.isoformat()}",
        json={"name": "Stadtfest"},
        headers=admin(tokens),
    )
    assert declared.status_code == 200, declared.text
    assert await slots(client, office, service.id, day) == []


async def test_an_office_is_closed_on_public_holidays_unless_it_says_otherwise(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    service = await create_service(session)
    body: dict[str, Any] = {
        "name": "Bürgerbüro Süd",
        "address": {"street": "Südring 2", "postal_code": "64283", "city": "Musterstadt"},
        "counters": 1,
        "services": [{"service_id": str(service.id)}],
    }
    created = await client.post(
        f"/booking/v1/tenants/{TENANT}/offices", json=body, headers=admin(tokens)
    )
    assert created.status_code == 201, created.text
    assert created.json()["opens_on_public_holidays"] is False
    url = f"/booking/v1/tenants/{TENANT}/offices/{created.json()['id']}"

    opened = await client.put(
        url, json={**body, "opens_on_public_holidays": True}, headers=admin(tokens)
    )

    assert opened.status_code == 200, opened.text
    assert (await client.get(url)).json()["opens_on_public_holidays"] is True


async def test_a_hold_on_a_holiday_is_refused_like_one_outside_the_opening_hours(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    day = next_holiday(TENANT)
    working = working_day_after(TENANT, day + timedelta(days=1))
    office, service = await closed_office(session)

    on_holiday = await hold(client, office, service, start=at(day, 9))
    after_hours = await hold(client, office, service, start=at(working, 18))
    booking = await book(client, office, service, start=at(working, 9))
    moved = await client.post(
        f"/booking/v1/bookings/{booking['id']}/reschedule",
        json={"start": at(day, 9).isoformat()},
        headers={"X-Manage-Token": booking["manage_token"]},
    )

    for refused in (on_holiday, moved):
        assert refused.status_code == 422, refused.text
        assert {k: refused.json()[k] for k in ("type", "title", "status", "detail")} == {
            k: after_hours.json()[k] for k in ("type", "title", "status", "detail")
        }
    assert after_hours.json()["type"] == "urn:rathaus:problem:slot-not-offered"


async def test_the_earliest_appointment_passes_over_the_lands_holiday(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    # Within the earliest appointment's horizon (92 days) one Land or another has a holiday.
    soon = [
        (day, ags)
        for ags in (f"{prefix}999001" for prefix in LAND_OF_AGS_PREFIX)
        if (day := first_holiday(ags, within=80)) is not None
    ]
    day, tenant = min(soon)
    working = working_day_after(tenant, day + timedelta(days=1))
    service = await create_service(session, tenant=tenant)
    office = await create_office(session, service, tenant=tenant, opens_on_public_holidays=False)
    # Open from the holiday on only, so that the earliest free slot is on it or after it.
    session.add_all(
        OpeningRule(
            office_id=office.id,
            weekday=weekday,
            opens=time(8),
            closes=time(12),
            breaks=[],
            valid_from=day,
            valid_until=None,
        )
        for weekday in range(1, 8)
    )
    await session.flush()
    url = f"/booking/v1/tenants/{tenant}/earliest"
    partner = tokens.headers(
        sub="nachbarstadt", tenant=tenant, roles=[], scopes="booking:search", client_id="n"
    )

    closed = await client.get(url, params={"leika": service.leika}, headers=partner)
    office_url = f"/booking/v1/tenants/{tenant}/offices/{office.id}"
    described = (await client.get(office_url)).json()
    reopened = await client.put(
        office_url,
        json={
            "name": described["name"],
            "address": described["address"],
            "counters": 1,
            "opens_on_public_holidays": True,
            "services": [{"service_id": str(service.id)}],
        },
        headers=admin(tokens, tenant),
    )
    assert reopened.status_code == 200, reopened.text
    opened = await client.get(url, params={"leika": service.leika}, headers=partner)

    assert closed.status_code == 200, closed.text
    assert datetime.fromisoformat(closed.json()["appointment"]["start"]) == at(working, 8)
    assert datetime.fromisoformat(opened.json()["appointment"]["start"]) == at(day, 8)


async def test_a_holiday_is_a_local_day_whatever_the_utc_date_says(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    # Open 00:00-03:00 local: a day's first slots lie on the UTC day before it.
    day = next_holiday(TENANT)
    working = working_day_after(TENANT, day + timedelta(days=1))
    service = await create_service(session, duration_minutes=30)
    office = await create_office(
        session, service, slot_minutes=30, bookable_until_days=400, opens_on_public_holidays=False
    )
    await open_every_day(session, office, opens=time(0), closes=time(3))

    after = await slots(client, office, service.id, working)
    on_the_day = await slots(client, office, service.id, day)
    held = await hold(client, office, service, start=at(working, 0))

    assert on_the_day == []
    assert datetime.fromisoformat(after[0]["start"]) == at(working, 0)
    assert at(working, 0).astimezone(UTC).date() == working - timedelta(days=1)
    assert len(after) == 6
    assert held.status_code == 201, held.text


async def test_the_holidays_are_the_lands_and_the_municipalitys_own(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    year = local_day(0).year + 1
    url = f"/booking/v1/tenants/{TENANT}/holidays"
    christmas, boxing_day, eve = date(year, 12, 25), date(year, 12, 26), date(year, 12, 24)

    for day, name in ((eve, "Heiligabend"), (christmas, "Weihnachten im Rathaus")):
        declared = await client.put(
            f"{url}/{day.isoformat()}", json={"name": name}, headers=admin(tokens)
        )
        assert declared.status_code == 200, declared.text
    listed = (await client.get(url, params={"year": year})).json()["items"]
    forgotten = await client.delete(f"{url}/{christmas.isoformat()}", headers=admin(tokens))
    relisted = (await client.get(url, params={"year": year})).json()["items"]
    not_ours = await client.delete(f"{url}/{boxing_day.isoformat()}", headers=admin(tokens))

    assert [h["day"] for h in listed] == sorted(h["day"] for h in listed)
    assert len(listed) == len(public_holidays(TENANT, [year])) + 1  # Heiligabend
    assert {h["day"]: (h["name"], h["source"]) for h in listed if h["day"] >= f"{year}-12"} == {
        eve.isoformat(): ("Heiligabend", "municipality"),
        christmas.isoformat(): ("Weihnachten im Rathaus", "municipality"),
        boxing_day.isoformat(): ("Zweiter Weihnachtstag", "land"),
    }
    assert forgotten.status_code == 204
    assert {h["day"]: (h["name"], h["source"]) for h in relisted}[christmas.isoformat()] == (
        "Erster Weihnachtstag",
        "land",
    )
    assert not_ours.status_code == 404
    assert "public holiday of the Land" in not_ours.json()["detail"]
