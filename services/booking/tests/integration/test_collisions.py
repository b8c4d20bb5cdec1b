"""The municipality's changes that collide with confirmed bookings (a closure, new opening
hours, a holiday it declares): each booking is cancelled by the municipality, its citizen
mailed the invitation's CANCEL and the earliest alternative with the link that books it, and
the administrator's answer says how many."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from booking.catalogue.models import Service
from booking.offices.models import Office
from servicekit.mail.sink import MailSink
from servicekit.testing.tokens import TokenFactory

from ..factories import (
    CONTACT,
    PORTAL_URL,
    TENANT,
    at,
    book,
    create_office,
    create_service,
    iso,
    local_day,
    open_every_day,
)
from .test_mails import delivered, event_of, parts

ADMIN = {"sub": "admin-1", "tenant": TENANT, "roles": ["admin"]}


async def two_offices(session: AsyncSession) -> tuple[Office, Office, Service]:
    """Two offices of one service, bookable from the day after tomorrow (so the earliest
    alternative does not depend on the time of day the test runs)."""
    service = await create_service(session)
    offices = []
    for name in ("Bürgerbüro Mitte", "Bürgerbüro Nord"):
        office = await create_office(session, service, name=name, bookable_from_days=2)
        await open_every_day(session, office)
        offices.append(office)
    return offices[0], offices[1], service


def book_link(text: str) -> dict[str, str]:
    [line] = [line for line in text.splitlines() if line.startswith(f"{PORTAL_URL}/book?")]
    return dict(parse_qsl(urlsplit(line).query))


async def cancellation(app: FastAPI, sink: tuple[MailSink, int]) -> tuple[Any, str, str]:
    mails = await delivered(app, sink)
    mail = mails[-1]
    text, html, calendar, _ = parts(mail)
    assert str(calendar["METHOD"]) == "CANCEL"
    return mail, text, html


async def test_a_closure_cancels_the_bookings_in_it_and_offers_the_earliest_alternative(
    client: httpx.AsyncClient,
    session: AsyncSession,
    app: FastAPI,
    sink: tuple[MailSink, int],
    tokens: TokenFactory,
) -> None:
    mitte, _, service = await two_offices(session)
    inside = await book(client, mitte, service, start=at(local_day(3), 9))
    outside = await book(client, mitte, service, start=at(local_day(3), 11))
    await delivered(app, sink)  # the confirmations

    closed = await client.post(
        f"/booking/v1/tenants/{TENANT}/offices/{mitte.id}/closures",
        json={
            "starts_at": iso(at(local_day(3), 8)),
            "ends_at": iso(at(local_day(3), 10)),
            "reason": "Betriebsversammlung",
        },
        headers=tokens.headers(**ADMIN),
    )
    mail, text, html = await cancellation(app, sink)
    cancelled = await client.get(
        f"/booking/v1/bookings/{inside['id']}", headers={"X-Manage-Token": inside["manage_token"]}
    )
    kept = await client.get(
        f"/booking/v1/bookings/{outside['id']}", headers={"X-Manage-Token": outside["manage_token"]}
    )

    assert closed.status_code == 201, closed.text
    assert closed.json()["cancelled_bookings"] == 1
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["cancelled_by"] == "municipality"
    assert cancelled.json()["cancellation_reason"] == "Betriebsversammlung"
    assert kept.json()["status"] == "confirmed"
    assert str(mail["To"]).endswith(f"<{CONTACT['email']}>")
    assert inside["code"] in str(mail["Subject"])
    assert "Betriebsversammlung" in text
    _, _, calendar, _ = parts(mail)
    event = event_of(calendar)
    assert str(event["UID"]) == f"{inside['id']}@booking.rathaus"
    assert int(event["SEQUENCE"]) == 1
    assert str(event["STATUS"]) == "CANCELLED"
    alternative = book_link(text)
    assert alternative["start"] in {iso(at(local_day(2), 8)), at(local_day(2), 8).isoformat()}
    assert alternative["office_id"] == str(mitte.id)  # the same office first
    assert "Bürgerbüro Mitte" in text
    assert "/book?" in html
    held = await client.post(
        f"/booking/v1/tenants/{TENANT}/holds",
        json={
            "office_id": alternative["office_id"],
            "service_ids": alternative["service_ids"].split(","),
            "start": alternative["start"],
        },
    )
    assert held.status_code == 201, held.text


async def test_new_opening_hours_cancel_what_they_leave_out_and_offer_another_office(
    client: httpx.AsyncClient,
    session: AsyncSession,
    app: FastAPI,
    sink: tuple[MailSink, int],
    tokens: TokenFactory,
) -> None:
    mitte, nord, service = await two_offices(session)
    booking = await book(client, mitte, service, start=at(local_day(3), 9))
    await delivered(app, sink)

    changed = await client.put(
        f"/booking/v1/tenants/{TENANT}/offices/{mitte.id}/opening-hours",
        json={"rules": []},
        headers=tokens.headers(**ADMIN),
    )
    _, text, _ = await cancellation(app, sink)
    seen = await client.get(
        f"/booking/v1/bookings/{booking['id']}", headers={"X-Manage-Token": booking["manage_token"]}
    )

    assert changed.status_code == 200, changed.text
    assert changed.json()["cancelled_bookings"] == 1
    assert changed.json()["rules"] == []
    assert seen.json()["cancelled_by"] == "municipality"
    assert book_link(text)["office_id"] == str(nord.id)
    assert "Bürgerbüro Nord" in text


async def test_a_declared_holiday_cancels_the_days_bookings_in_every_office(
    client: httpx.AsyncClient,
    session: AsyncSession,
    app: FastAPI,
    sink: tuple[MailSink, int],
    tokens: TokenFactory,
) -> None:
    mitte, nord, service = await two_offices(session)
    day = local_day(4)
    first = await book(client, mitte, service, start=at(day, 9))
    second = await book(
        client,
        nord,
        service,
        start=at(day, 10),
        contact={"name": "Eva", "email": "eva@example.org"},
    )
    other_day = await book(client, nord, service, start=at(local_day(5), 10))
    await delivered(app, sink)

    declared = await client.put(
        f"/booking/v1/tenants/{TENANT}/holidays/{day.isoformat()}",
        json={"name": "Stadtfest"},
        headers=tokens.headers(**ADMIN),
    )
    mails = (await delivered(app, sink))[-2:]
    statuses = [
        (
            await client.get(
                f"/booking/v1/bookings/{b['id']}", headers={"X-Manage-Token": b["manage_token"]}
            )
        ).json()
        for b in (first, second, other_day)
    ]
    again = await client.put(
        f"/booking/v1/tenants/{TENANT}/holidays/{day.isoformat()}",
        json={"name": "Stadtfest"},
        headers=tokens.headers(**ADMIN),
    )

    assert declared.status_code == 200, declared.text
    assert declared.json()["cancelled_bookings"] == 2
    assert [s["status"] for s in statuses] == ["cancelled", "cancelled", "confirmed"]
    assert [s["cancellation_reason"] for s in statuses[:2]] == ["Stadtfest", "Stadtfest"]
    for mail in mails:
        text, _, calendar, _ = parts(mail)
        assert str(calendar["METHOD"]) == "CANCEL"
        assert "Stadtfest" in text
    assert again.json()["cancelled_bookings"] == 0  # nothing left to cancel, nothing mailed
    assert len(await delivered(app, sink)) == 5
