"""Events: identity's account.erased erases the person here, and booking tells documents."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from booking.bookings.models import Booking
from booking.cli import main
from booking.events.models import (
    ACCOUNT_ERASED,
    BOOKING_CANCELLED,
    BOOKING_CONFIRMED,
    BOOKING_RESCHEDULED,
    CITIZEN_ERASED,
    OutboxEvent,
)
from booking.main import create_app
from booking.settings import BookingSettings
from servicekit.events import SIGNATURE_HEADER
from servicekit.testing.events import signed_delivery
from servicekit.testing.tokens import TokenFactory

from ..factories import (
    IDENTITY_EVENT_SECRET,
    TENANT,
    account_booking,
    at,
    book,
    hold,
    local_day,
    office_with_service,
)

URL = "/booking/v1/events"


def delivery(
    data: dict[str, Any],
    *,
    event_type: str = ACCOUNT_ERASED,
    tenant: str = TENANT,
    secret: str = IDENTITY_EVENT_SECRET,
) -> tuple[bytes, dict[str, str]]:
    """A signed delivery of identity's, as its dispatcher sends it."""
    return signed_delivery(
        source="identity", event_type=event_type, data=data, secret=secret, tenant=tenant
    )


async def published(session: AsyncSession) -> list[OutboxEvent]:
    return list(
        await session.scalars(select(OutboxEvent).where(OutboxEvent.type == CITIZEN_ERASED))
    )


async def test_an_erased_account_erases_the_persons_bookings_and_tells_documents(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    office, service = await office_with_service(session)
    erika = tokens.headers(sub="account-erika", tenant=TENANT, roles=["citizen"])
    ahead = await account_booking(client, office, service, erika)
    by_address = await book(
        client,
        office,
        service,
        start=at(local_day(4), 9),
        contact={"name": "E", "email": "erika@example.org"},
    )
    other = await book(
        client,
        office,
        service,
        start=at(local_day(4), 10),
        contact={"name": "Max", "email": "max@example.org"},
    )
    body, headers = delivery({"account_id": "account-erika", "email": "erika@example.org"})

    first = await client.post(URL, content=body, headers=headers)
    repeated = await client.post(URL, content=body, headers=headers)

    assert (first.status_code, repeated.status_code) == (204, 204)
    rows = {
        str(b.id): b
        for b in await session.scalars(select(Booking).execution_options(populate_existing=True))
    }
    assert {rows[ahead].status, rows[by_address["id"]].status} == {"cancelled"}
    assert rows[ahead].citizen_subject is None
    assert rows[by_address["id"]].email is None
    assert rows[other["id"]].email is not None
    [event] = await published(session)  # once, although delivered twice
    assert event.tenant == TENANT
    assert sorted(json.loads(event.data)["booking_ids"]) == sorted([ahead, by_address["id"]])


@pytest.mark.parametrize("forgery", ["other secret", "no signature", "altered"])
async def test_a_forged_event_is_401_and_erases_nothing(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory, forgery: str
) -> None:
    body, headers = delivery(
        {"account_id": "account-x", "email": "x@example.org"},
        secret="not-the-shared-secret-of-identity"
        if forgery == "other secret"
        else IDENTITY_EVENT_SECRET,
    )
    if forgery == "no signature":
        del headers[SIGNATURE_HEADER]
    if forgery == "altered":
        body = body.replace(b"account-x", b"account-y")

    response = await client.post(URL, content=body, headers=headers)

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert await published(session) == []


@pytest.mark.parametrize(
    ("data", "tenant"),
    [({"email": "x@example.org"}, TENANT), ({"account_id": "a"}, "not-an-ags")],
)
async def test_an_erasure_event_without_account_or_tenant_is_400(
    client: httpx.AsyncClient, data: dict[str, Any], tenant: str
) -> None:
    body, headers = delivery(data, tenant=tenant)

    response = await client.post(URL, content=body, headers=headers)

    assert response.status_code == 400
    assert response.json()["type"] == "urn:rathaus:problem:malformed-event"


async def test_an_event_booking_does_not_act_on_is_acknowledged(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    body, headers = delivery({"anything": 1}, event_type="de.rathaus.identity.something.else")

    response = await client.post(URL, content=body, headers=headers)

    assert response.status_code == 204
    assert await published(session) == []


async def test_a_bookings_life_is_told_to_subscribers_without_personal_data(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    office, service = await office_with_service(session)
    booked = await book(client, office, service, start=at(local_day(3), 9))
    moved = await client.post(
        f"/booking/v1/bookings/{booked['id']}/reschedule",
        json={"start": at(local_day(3), 11).isoformat()},
        headers={"X-Manage-Token": booked["manage_token"]},
    )
    cancelled = await client.post(
        f"/booking/v1/bookings/{booked['id']}/cancel",
        headers={"X-Manage-Token": booked["manage_token"]},
    )
    held = await hold(client, office, service, start=at(local_day(4), 9))
    let_go = await client.post(
        f"/booking/v1/bookings/{held.json()['id']}/cancel",
        headers={"X-Manage-Token": held.json()["manage_token"]},
    )

    assert (moved.status_code, cancelled.status_code, let_go.status_code) == (200, 200, 200)
    events = list(await session.scalars(select(OutboxEvent).order_by(OutboxEvent.time)))
    assert [e.type for e in events] == [BOOKING_CONFIRMED, BOOKING_RESCHEDULED, BOOKING_CANCELLED]
    assert {e.subject for e in events} == {booked["id"]}
    assert {e.tenant for e in events} == {TENANT}
    confirmed, rescheduled, _ = (json.loads(e.data) for e in events)
    assert confirmed["service_ids"] == [str(service.id)]
    assert rescheduled["previous_starts_at"] == confirmed["starts_at"]
    assert datetime.fromisoformat(rescheduled["starts_at"]) == at(local_day(3), 11)
    for event in events:
        assert "erika" not in event.data.lower()  # no name, no address


def test_operators_ask_the_command_line_what_is_undelivered(
    fresh_database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    subscriber = {
        "name": "fachverfahren",
        "url": "http://127.0.0.1:9/events",
        "secret": "s" * 32,
        "types": [BOOKING_CONFIRMED],
    }
    monkeypatch.setenv("BOOKING_DATABASE_URL", fresh_database_url)
    main(["events"])
    monkeypatch.setenv("BOOKING_EVENTS_SUBSCRIBERS", json.dumps([subscriber]))
    monkeypatch.setenv("BOOKING_TENANT_MAIL", json.dumps({TENANT: {"double_opt_in": False}}))

    async def confirm_one() -> None:
        app = create_app(BookingSettings())
        async with app.state.database.sessionmaker() as session:
            office, service = await office_with_service(session)
            await session.commit()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://booking") as client:
            await book(client, office, service, start=at(local_day(3), 9))
        await app.state.database.dispose()

    asyncio.run(confirm_one())
    main(["events", "--retry"])

    out = capsys.readouterr().out.splitlines()
    assert out[0] == "every event has been delivered"
    assert out[1].startswith("fachverfahren: 1 undelivered, up to 0 attempts, next now")
