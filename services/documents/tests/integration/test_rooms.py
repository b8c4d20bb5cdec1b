"""Consultation rooms: messages, document activity, access, live streams, retention."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from documents.events.models import OutboxEvent
from documents.rooms.models import RoomEvent
from servicekit.testing.live import LiveServer
from servicekit.testing.tokens import TokenFactory
from tests.documents_booking.live_booking import Appointment, LiveBooking

from ..factories import PASSPORT, admin, citizen, clerk, upload


def events_path(appointment: Appointment) -> str:
    return f"/documents/v1/bookings/{appointment.booking_id}/room/events"


def messages_path(appointment: Appointment) -> str:
    return f"/documents/v1/bookings/{appointment.booking_id}/room/messages"


def stream_path(appointment: Appointment) -> str:
    return f"/documents/v1/bookings/{appointment.booking_id}/room/stream"


async def say(
    client: httpx.AsyncClient, appointment: Appointment, headers: dict[str, str], text: str
) -> dict[str, Any]:
    response = await client.post(messages_path(appointment), json={"text": text}, headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def room(
    client: httpx.AsyncClient,
    appointment: Appointment,
    headers: dict[str, str],
    **params: Any,
) -> dict[str, Any]:
    response = await client.get(events_path(appointment), params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_citizen_and_clerk_talk_in_the_room(
    client: httpx.AsyncClient, appointment: Appointment, tokens: TokenFactory
) -> None:
    question = await say(client, appointment, citizen(tokens), "  Brauche ich das Original?  ")
    await say(client, appointment, clerk(tokens), "Ja, bitte mitbringen.")
    await say(client, appointment, appointment.link, "Danke!")

    as_citizen = await room(client, appointment, citizen(tokens))
    as_clerk = await room(client, appointment, clerk(tokens))
    newer = await room(client, appointment, citizen(tokens), after=question["id"])

    assert question["text"] == "Brauche ich das Original?"
    assert [(e["actor_role"], e["by_me"], e["text"]) for e in as_citizen["items"]] == [
        ("citizen", True, "Brauche ich das Original?"),
        ("clerk", False, "Ja, bitte mitbringen."),
        ("citizen", False, "Danke!"),  # the manage link is not this account
    ]
    assert [e["by_me"] for e in as_clerk["items"]] == [False, True, False]
    assert {e["kind"] for e in as_clerk["items"]} == {"message"}
    assert as_citizen["next_after"] == as_citizen["items"][-1]["id"]
    assert [e["text"] for e in newer["items"]] == ["Ja, bitte mitbringen.", "Danke!"]
    empty = await room(client, appointment, clerk(tokens), after=as_citizen["next_after"])
    assert empty["items"] == []
    assert empty["next_after"] == as_citizen["next_after"]


async def test_the_room_shows_what_happens_to_the_documents(
    client: httpx.AsyncClient, session: AsyncSession, appointment: Appointment, tokens: TokenFactory
) -> None:
    document = await upload(client, tokens, appointment, PASSPORT)
    reviewed = await client.post(
        f"/documents/v1/documents/{document['id']}/review",
        json={"decision": "needs_replacement", "reason": "Unscharf"},
        headers=clerk(tokens),
    )
    withdrawn = await client.delete(
        f"/documents/v1/documents/{document['id']}", headers=citizen(tokens)
    )
    replacement = await upload(client, tokens, appointment, PASSPORT)
    accepted = await client.post(
        f"/documents/v1/documents/{replacement['id']}/review",
        json={"decision": "accepted"},
        headers=clerk(tokens),
    )

    events = (await room(client, appointment, clerk(tokens)))["items"]

    assert (reviewed.status_code, withdrawn.status_code, accepted.status_code) == (200, 204, 200)
    # A case management system that subscribes learns the same, without names or bytes.
    published = [
        (e.type.rsplit(".", 1)[1], e.subject, json.loads(e.data)["review_status"])
        for e in await session.scalars(select(OutboxEvent).order_by(OutboxEvent.time))
    ]
    assert published == [
        ("uploaded", document["id"], "submitted"),
        ("needs_replacement", document["id"], "needs_replacement"),
        ("withdrawn", document["id"], "needs_replacement"),
        ("uploaded", replacement["id"], "submitted"),
        ("accepted", replacement["id"], "accepted"),
    ]
    assert [(e["kind"], e["actor_role"], e["document_id"], e["text"]) for e in events] == [
        ("document_uploaded", "citizen", document["id"], None),
        ("document_needs_replacement", "clerk", document["id"], "Unscharf"),
        ("document_withdrawn", "citizen", document["id"], None),
        ("document_uploaded", "citizen", replacement["id"], None),
        ("document_accepted", "clerk", replacement["id"], None),
    ]


async def test_nobody_else_enters_the_room(
    client: httpx.AsyncClient, appointment: Appointment, tokens: TokenFactory
) -> None:
    await say(client, appointment, citizen(tokens), "Nur für meine Sachbearbeitung")
    strangers = {
        "another citizen": citizen(tokens, "citizen-2"),
        "a clerk of another office": clerk(tokens, "clerk-2"),
        "a clerk of another municipality": tokens.headers(
            sub="clerk-1", tenant="05315000", roles=["clerk"]
        ),
        "a partner client": tokens.headers(sub="partner", tenant="06999001", roles=["partner"]),
        "a wrong manage link": {"X-Manage-Token": "not-the-secret-of-this-booking"},
    }

    for who, headers in strangers.items():
        read = await client.get(events_path(appointment), headers=headers)
        written = await client.post(
            messages_path(appointment), json={"text": "hallo"}, headers=headers
        )
        followed = await client.get(stream_path(appointment), headers=headers)
        assert [read.status_code, written.status_code, followed.status_code] == [404] * 3, who
        assert read.json()["type"] == "urn:rathaus:problem:booking-not-found", who
    unknown = await client.get(
        f"/documents/v1/bookings/{uuid.uuid4()}/room/events", headers=citizen(tokens)
    )
    anonymous = await client.get(events_path(appointment))
    expired = await client.get(
        events_path(appointment),
        headers=tokens.headers(sub="citizen-1", roles=["citizen"], expires_in=-120),
    )
    assert unknown.status_code == 404
    assert anonymous.status_code == expired.status_code == 401
    events = (await room(client, appointment, clerk(tokens)))["items"]
    assert [e["text"] for e in events] == ["Nur für meine Sachbearbeitung"]


@pytest.mark.parametrize(
    "body",
    [{"text": ""}, {"text": "   "}, {"text": "x" * 2001}, {"text": 5}, {}, {"text": "a", "b": 1}],
)
async def test_a_bad_message_is_422_and_writes_nothing(
    client: httpx.AsyncClient, appointment: Appointment, tokens: TokenFactory, body: Any
) -> None:
    response = await client.post(messages_path(appointment), json=body, headers=citizen(tokens))

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert (await room(client, appointment, citizen(tokens)))["items"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"after": -1},
        {"limit": 0},
        {"limit": 201},
        {"after": "x"},
        {"after": 2**63},  # past the database's 64-bit ids: was an OverflowError, a 500
        {"after": 10**40},
    ],
)
async def test_bad_paging_is_422(
    client: httpx.AsyncClient, appointment: Appointment, tokens: TokenFactory, params: Any
) -> None:
    response = await client.get(events_path(appointment), params=params, headers=clerk(tokens))

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_the_largest_event_id_is_a_cursor_with_nothing_after_it(
    client: httpx.AsyncClient, appointment: Appointment, tokens: TokenFactory
) -> None:
    await say(client, appointment, citizen(tokens), "Guten Tag")

    page = await room(client, appointment, citizen(tokens), after=2**63 - 1)

    assert page["items"] == []
    assert page["next_after"] == 2**63 - 1


@pytest.mark.parametrize(
    ("params", "headers"),
    [({"after": 2**63}, {}), ({}, {"Last-Event-ID": str(2**63)})],
    ids=["after", "last-event-id"],
)
async def test_a_stream_from_beyond_the_largest_event_id_is_422(
    client: httpx.AsyncClient,
    appointment: Appointment,
    tokens: TokenFactory,
    params: dict[str, Any],
    headers: dict[str, str],
) -> None:
    response = await client.get(
        stream_path(appointment), params=params, headers={**citizen(tokens), **headers}
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_pages_of_the_room(
    client: httpx.AsyncClient, appointment: Appointment, tokens: TokenFactory
) -> None:
    for number in range(5):
        await say(client, appointment, citizen(tokens), f"Nachricht {number}")

    first = await room(client, appointment, citizen(tokens), limit=2)
    second = await room(client, appointment, citizen(tokens), limit=2, after=first["next_after"])
    rest = await room(client, appointment, citizen(tokens), after=second["next_after"])

    pages = [[e["text"][-1] for e in page["items"]] for page in (first, second, rest)]
    assert pages == [["0", "1"], ["2", "3"], ["4"]]


async def test_a_cancelled_bookings_room_can_be_read_but_not_written(
    client: httpx.AsyncClient, live_booking: LiveBooking, tokens: TokenFactory
) -> None:
    booked = await live_booking.book(live_booking.citizen)
    await say(client, booked, citizen(tokens), "Ich muss leider absagen.")
    assert (await live_booking.cancel(booked)).status_code == 200

    late = await client.post(messages_path(booked), json={"text": "Hallo?"}, headers=clerk(tokens))
    events = await room(client, booked, clerk(tokens))

    assert late.status_code == 409
    assert late.json()["type"] == "urn:rathaus:problem:booking-closed"
    assert [e["text"] for e in events["items"]] == ["Ich muss leider absagen."]


# --- retention and erasure -------------------------------------------------------------------


async def test_purge_and_erasure_delete_the_rooms_events(
    client: httpx.AsyncClient,
    appointment: Appointment,
    live_booking: LiveBooking,
    session: AsyncSession,
    tokens: TokenFactory,
) -> None:
    long_ago = await live_booking.book(live_booking.citizen)
    await say(client, long_ago, citizen(tokens), "alt")
    await live_booking.move_into_past(long_ago, days=200)
    await upload(client, tokens, long_ago, PASSPORT)  # brings the room along to the past
    await say(client, appointment, citizen(tokens), "neu")

    purged = await client.post("/documents/v1/retention/purge", headers=admin(tokens))
    after_purge = await booking_ids_with_events(session)
    erased = await client.post(
        "/documents/v1/tenants/06999001/erasures",
        json={"booking_ids": [appointment.booking_id]},
        headers=admin(tokens),
    )
    after_erasure = await booking_ids_with_events(session)

    assert purged.json() == {"purged": 1}
    assert appointment.booking_id in after_purge
    assert long_ago.booking_id not in after_purge
    assert erased.status_code == 200
    assert appointment.booking_id not in after_erasure


async def booking_ids_with_events(session: AsyncSession) -> set[str]:
    rows = await session.scalars(select(RoomEvent.booking_id).distinct())
    return {str(uuid.UUID(row)) for row in rows.all()}


# --- live: event streams through real servers ------------------------------------------------


class Stream:
    """The events of one open Server-Sent Events response, as they come."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def next_event(self, timeout_s: float = 10) -> dict[str, Any]:
        fields: dict[str, str] = {}
        async with asyncio.timeout(timeout_s):
            async for line in self._lines:
                if not line:
                    if "data" in fields:
                        event: dict[str, Any] = json.loads(fields["data"])
                        assert str(event["id"]) == fields["id"]
                        assert event["kind"] == fields["event"]
                        return event
                    fields.clear()
                    continue
                name, _, value = line.partition(":")
                if name:  # a comment (": keep-alive") has no name
                    fields[name] = value.removeprefix(" ")
        raise AssertionError("the stream ended")

    async def ends(self, timeout_s: float) -> bool:
        try:
            async with asyncio.timeout(timeout_s):
                async for _ in self._lines:
                    pass
        except TimeoutError:
            return False
        return True


@asynccontextmanager
async def stream(
    server: LiveServer, appointment: Appointment, headers: dict[str, str]
) -> AsyncIterator[Stream]:
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=30) as http,
        http.stream("GET", stream_path(appointment), headers=headers) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        yield Stream(response)


@pytest.fixture
def slow_polling_documents(
    fresh_database_url: str, start_live_documents: Callable[..., tuple[LiveServer, FastAPI]]
) -> LiveServer:
    """Documents under uvicorn whose streams look into the database only every minute: what
    reaches them sooner was rung in by this process."""
    server, _ = start_live_documents(fresh_database_url, room_poll_s=60, room_keep_alive_s=60)
    return server


async def test_a_stream_gets_a_message_as_it_is_written_and_resumes_after_the_last_id(
    slow_polling_documents: LiveServer, appointment: Appointment, tokens: TokenFactory
) -> None:
    server = slow_polling_documents
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        earlier = await say(http, appointment, citizen(tokens), "vorher")
        async with stream(server, appointment, clerk(tokens)) as clerk_stream:
            assert (await clerk_stream.next_event())["text"] == "vorher"
            written = await say(http, appointment, citizen(tokens), "jetzt")
            live = await clerk_stream.next_event(timeout_s=10)
        resumed_headers = {**clerk(tokens), "Last-Event-ID": str(earlier["id"])}
        async with stream(server, appointment, resumed_headers) as resumed:
            again = await resumed.next_event()

    assert live == {**written, "by_me": False}
    assert again["id"] == written["id"]


async def test_a_stream_ends_when_the_token_expires(
    slow_polling_documents: LiveServer, appointment: Appointment, tokens: TokenFactory
) -> None:
    short = tokens.headers(sub="citizen-1", roles=["citizen"], expires_in=2)

    async with stream(slow_polling_documents, appointment, short) as citizen_stream:
        ended = await citizen_stream.ends(timeout_s=15)

    assert ended


async def test_a_message_written_through_one_replica_reaches_a_stream_of_another(
    fresh_database_url: str,
    start_live_documents: Callable[..., tuple[LiveServer, FastAPI]],
    appointment: Appointment,
    tokens: TokenFactory,
) -> None:
    first, _ = start_live_documents(fresh_database_url, room_poll_s=0.2)
    second, _ = start_live_documents(fresh_database_url, room_poll_s=0.2)

    async with (
        httpx.AsyncClient(base_url=first.url, timeout=30) as http,
        stream(second, appointment, clerk(tokens)) as on_second,
    ):
        written = await say(http, appointment, citizen(tokens), "über den anderen Knoten")
        arrived = await on_second.next_event(timeout_s=10)

    assert arrived["id"] == written["id"]


async def test_many_streams_of_many_rooms_each_get_their_own_room(
    live_documents: tuple[LiveServer, FastAPI],
    live_booking: LiveBooking,
    tokens: TokenFactory,
) -> None:
    server, _ = live_documents
    owners = [citizen(tokens, f"citizen-room-{n}") for n in range(3)]
    rooms = [await live_booking.book(owner) for owner in owners]
    try:
        async with contextlib.AsyncExitStack() as streams:
            followers = [
                await streams.enter_async_context(stream(server, r, clerk(tokens))) for r in rooms
            ]
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
                await asyncio.gather(
                    *(
                        say(http, r, owner, f"{n}-{i}")
                        for i in range(2)
                        for n, (r, owner) in enumerate(zip(rooms, owners, strict=True))
                    )
                )
            heard = [[(await f.next_event())["text"] for _ in range(2)] for f in followers]
    finally:
        for appointment in rooms:
            await live_booking.cancel(appointment)

    assert [sorted(h) for h in heard] == [[f"{n}-0", f"{n}-1"] for n in range(3)]


async def test_a_process_follows_at_most_its_number_of_streams(
    fresh_database_url: str,
    start_live_documents: Callable[..., tuple[LiveServer, FastAPI]],
    appointment: Appointment,
    tokens: TokenFactory,
) -> None:
    server, app = start_live_documents(fresh_database_url, room_streams_max=1)

    async with stream(server, appointment, clerk(tokens)):
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            refused = await http.get(stream_path(appointment), headers=clerk(tokens))
    for _ in range(100):  # the server notices the first stream's end
        if app.state.room_bell.streams == 0:
            break
        await asyncio.sleep(0.05)
    async with stream(server, appointment, clerk(tokens)) as again:
        await say_through(server, appointment, citizen(tokens), "wieder da")
        later = await again.next_event()

    assert refused.status_code == 503
    assert refused.json()["type"] == "urn:rathaus:problem:too-many-streams"
    assert refused.headers["retry-after"] == "10"
    assert later["text"] == "wieder da"


async def say_through(
    server: LiveServer, appointment: Appointment, headers: dict[str, str], text: str
) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        await say(http, appointment, headers, text)
