"""Events: booking's citizen.erased deletes the bookings' documents and consultation rooms."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from documents.events.models import CITIZEN_ERASED
from documents.rooms.models import RoomEvent
from documents.uploads.models import Document
from servicekit.testing.events import signed_delivery
from servicekit.testing.tokens import TokenFactory
from tests.documents_booking.live_booking import TENANT, Appointment, LiveBooking

from ..factories import BOOKING_EVENT_SECRET, PASSPORT, PHOTO, citizen, pdf, rows, upload

URL = "/documents/v1/events"


def delivery(
    data: dict[str, Any], *, tenant: str = TENANT, secret: str = BOOKING_EVENT_SECRET
) -> tuple[bytes, dict[str, str]]:
    """A signed delivery of booking's, as its dispatcher sends it."""
    return signed_delivery(
        source="booking", event_type=CITIZEN_ERASED, data=data, secret=secret, tenant=tenant
    )


async def test_an_erased_citizens_bookings_lose_their_documents_and_rooms(
    client: httpx.AsyncClient,
    app: FastAPI,
    session: AsyncSession,
    appointment: Appointment,
    live_booking: LiveBooking,
    tokens: TokenFactory,
) -> None:
    theirs = await live_booking.book(citizen(tokens, "citizen-2"))
    await upload(client, tokens, appointment, PASSPORT)
    await upload(client, tokens, appointment, PHOTO)
    kept = await client.post(
        theirs.upload_path(), content=pdf(marker=b"kept"), headers=citizen(tokens, "citizen-2")
    )
    said = await client.post(
        f"/documents/v1/bookings/{appointment.booking_id}/room/messages",
        json={"text": "bis morgen"},
        headers=citizen(tokens),
    )
    assert (kept.status_code, said.status_code) == (201, 201)
    body, headers = delivery({"booking_ids": [appointment.booking_id]})

    first = await client.post(URL, content=body, headers=headers)
    again = await client.post(URL, content=body, headers=headers)

    assert (first.status_code, again.status_code) == (204, 204)
    assert await rows(session, Document) == 1  # citizen-2's
    assert await rows(session, RoomEvent) == 1  # citizen-2's upload; the erased room is gone
    assert len(await app.state.blob_store.list_ids()) == 1
    await live_booking.cancel(theirs)


@pytest.mark.parametrize(
    ("data", "tenant"),
    [
        ({"booking_ids": ["not-a-uuid"]}, TENANT),
        ({"bookings": []}, TENANT),
        ({"booking_ids": []}, "0699"),
    ],
)
async def test_a_malformed_erasure_event_is_400(
    client: httpx.AsyncClient, data: dict[str, Any], tenant: str
) -> None:
    body, headers = delivery(data, tenant=tenant)

    response = await client.post(URL, content=body, headers=headers)

    assert response.status_code == 400
    assert response.json()["type"] == "urn:rathaus:problem:malformed-event"


async def test_an_erasure_event_not_signed_by_booking_is_401(
    client: httpx.AsyncClient, session: AsyncSession, appointment: Appointment, tokens: TokenFactory
) -> None:
    await upload(client, tokens, appointment, PASSPORT)
    body, headers = delivery(
        {"booking_ids": [appointment.booking_id]}, secret="somebody-who-is-not-booking-at-all"
    )

    response = await client.post(URL, content=body, headers=headers)

    assert response.status_code == 401
    assert await rows(session, Document) == 1
