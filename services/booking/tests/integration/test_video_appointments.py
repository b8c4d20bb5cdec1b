"""Video appointments: an office offers a service by video; availability and the booking say
the mode; the KPIs count video visits and their minutes apart."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from booking.catalogue.models import Service
from booking.offices.models import Office
from booking.visits.models import Visit
from servicekit.testing.tokens import TokenFactory

from ..factories import (
    TENANT,
    add_staff,
    at,
    book,
    create_office,
    create_service,
    local_day,
    open_every_day,
)
from .test_visits import contact, move


async def _offer_by_video(
    client: httpx.AsyncClient, office: Office, video: Service, admin: dict[str, str]
) -> dict[str, Any]:
    url = f"/booking/v1/tenants/{TENANT}/offices/{office.id}"
    current = (await client.get(url)).json()
    body = {
        key: current[key]
        for key in (
            "name",
            "address",
            "location",
            "time_zone",
            "counters",
            "slot_minutes",
            "bookable_from_days",
            "bookable_until_days",
            "opens_on_public_holidays",
        )
    }
    body["services"] = [
        {
            "service_id": offered["service_id"],
            "mode": "video" if offered["service_id"] == str(video.id) else "in_person",
        }
        for offered in current["services"]
    ]
    answer = await client.put(url, json=body, headers=admin)
    assert answer.status_code == 200, answer.text
    updated: dict[str, Any] = answer.json()
    return updated


async def test_a_service_offered_by_video_is_booked_and_counted_as_video(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    video = await create_service(session, duration_minutes=20)
    desk = await create_service(session, duration_minutes=20)
    office = await create_office(session, video, desk, counters=2)
    await open_every_day(session, office)
    await add_staff(session, office, "clerk-1")
    admin = tokens.headers(sub="admin-1", tenant=TENANT, roles=["admin"])

    updated = await _offer_by_video(client, office, video, admin)
    modes = {offered["service_id"]: offered["mode"] for offered in updated["services"]}
    assert modes == {str(video.id): "video", str(desk.id): "in_person"}

    day = local_day(2)
    slots = f"/booking/v1/tenants/{TENANT}/availability/slots"
    by_video = await client.get(
        slots, params={"service_id": str(video.id), "date": day.isoformat()}
    )
    at_desk = await client.get(slots, params={"service_id": str(desk.id), "date": day.isoformat()})
    both = await client.get(
        slots,
        params=[("service_id", str(video.id)), ("service_id", str(desk.id)), ("date", str(day))],
    )
    assert by_video.status_code == 200, by_video.text
    assert {s["mode"] for s in by_video.json()["slots"]} == {"video"}
    assert {s["mode"] for s in at_desk.json()["slots"]} == {"in_person"}
    # One appointment for both: the citizen comes in for the one that needs it.
    assert {s["mode"] for s in both.json()["slots"]} == {"in_person"}

    remote = await book(client, office, video, start=at(day, 8), contact=contact(1))
    present = await book(client, office, desk, start=at(day, 8), contact=contact(2))
    assert remote["mode"] == "video"
    assert present["mode"] == "in_person"
    seen = await client.get(
        f"/booking/v1/bookings/{remote['id']}", headers={"X-Manage-Token": remote["manage_token"]}
    )
    assert seen.json()["mode"] == "video"

    # Yesterday, both served: 12 minutes by video, 10 at the desk.
    yesterday = local_day(-1)
    await move(session, remote["id"], at(yesterday, 9))
    await move(session, present["id"], at(yesterday, 9))
    for booking, minutes in ((remote, 12), (present, 10)):
        session.add(
            Visit(
                booking_id=uuid.UUID(booking["id"]),
                office_id=office.id,
                checked_in_at=at(yesterday, 9),
                called_at=at(yesterday, 9),
                counter="1",
                called_by="clerk-1",
                completed_at=at(yesterday, 9, minutes),
                resolved=True,
            )
        )
    await session.flush()
    kpis = await client.get(
        f"/booking/v1/tenants/{TENANT}/kpis",
        params={"from": yesterday.isoformat(), "to": yesterday.isoformat()},
        headers=admin,
    )
    assert kpis.status_code == 200, kpis.text
    assert kpis.json()["appointments"] == 2
    assert kpis.json()["completed"] == 2
    assert kpis.json()["remote"] == {"appointments": 1, "completed": 1, "minutes": 12.0}
