"""Documents back to the citizen: a clerk puts a document into the booking's consultation room
through the checks, encryption and scan of an upload; the citizen downloads it and confirms
receiving it; both see it in the room's timeline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.attack.world import PDF, World
from tests.calls.signalling import GUARD_S

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture
async def http(world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=world.gateway, timeout=30) as client:
        yield client


async def _send(http: httpx.AsyncClient, world: World, headers: dict[str, str]) -> httpx.Response:
    return await http.post(
        f"/documents/v1/bookings/{world.mine.booking_id}/room/documents",
        params={"filename": "Bescheid.pdf"},
        content=PDF,
        headers={**headers, "content-type": "application/pdf"},
    )


async def _mail_about(http: httpx.AsyncClient, world: World, about: str) -> dict[str, Any]:
    """Booking's queued mail about ``about`` (it arrives by an event, within moments)."""
    deadline = time.monotonic() + GUARD_S
    while True:
        listed = await http.get(
            f"/booking/v1/tenants/{world.mine.tenant}/mail",
            params={"status": "pending"},
            headers=world.headers["admin"],
        )
        assert listed.status_code == 200, listed.text
        found = [m for m in listed.json()["items"] if m["about"] == about]
        if found:
            return dict(found[0])
        assert time.monotonic() < deadline, f"no mail about {about}: {listed.json()}"
        await asyncio.sleep(0.1)


async def test_the_citizen_receives_downloads_and_acknowledges_the_offices_document(
    world: World, http: httpx.AsyncClient
) -> None:
    citizen, clerk = world.headers["citizen"], world.headers["clerk"]
    sent = await _send(http, world, clerk)
    assert sent.status_code == 201, sent.text
    document = sent.json()
    assert document["direction"] == "to_citizen"
    assert document["checklist_item_id"] == ""
    assert document["display_name"] == "Bescheid.pdf"
    assert document["acknowledged_at"] is None

    listed = await http.get(
        f"/documents/v1/bookings/{world.mine.booking_id}/room/documents", headers=citizen
    )
    assert listed.status_code == 200, listed.text
    assert [d["id"] for d in listed.json()["items"]] == [document["id"]]
    # Not among the citizen's uploads for the checklist.
    checklist = await http.get(
        f"/documents/v1/bookings/{world.mine.booking_id}/documents", headers=citizen
    )
    handed_in = [d["id"] for item in checklist.json()["items"] for d in item["documents"]]
    assert document["id"] not in handed_in

    content = await http.get(f"/documents/v1/documents/{document['id']}/content", headers=citizen)
    assert content.status_code == 200, content.text
    assert content.content == PDF

    acknowledged = await http.post(
        f"/documents/v1/documents/{document['id']}/acknowledgement", headers=citizen
    )
    assert acknowledged.status_code == 200, acknowledged.text
    at = acknowledged.json()["acknowledged_at"]
    assert at is not None
    again = await http.post(
        f"/documents/v1/documents/{document['id']}/acknowledgement", headers=citizen
    )
    assert again.json()["acknowledged_at"] == at

    timeline = await http.get(
        f"/documents/v1/bookings/{world.mine.booking_id}/room/timeline",
        params={"limit": 200},
        headers=clerk,
    )
    about = [e for e in timeline.json()["items"] if e["document_id"] == document["id"]]
    assert [(e["kind"], e["actor_role"]) for e in about] == [
        ("document_sent", "clerk"),
        ("document_acknowledged", "citizen"),
    ]
    # v1's event list keeps its closed list of kinds.
    events = await http.get(
        f"/documents/v1/bookings/{world.mine.booking_id}/room/events",
        params={"limit": 200},
        headers=clerk,
    )
    assert all(e["document_id"] != document["id"] for e in events.json()["items"])

    # Booking mails the citizen that it arrived (documents' event; no SMTP here: it waits).
    subject = f"booking:{world.mine.booking_id}:document:{document['id']}"
    mail = await _mail_about(http, world, subject)
    assert mail["template"] == "document_arrived"

    # The citizen cannot withdraw it.
    withdrawn = await http.delete(f"/documents/v1/documents/{document['id']}", headers=citizen)
    assert withdrawn.status_code == 403, withdrawn.text
    assert withdrawn.json()["type"].endswith(":sent-by-office")


async def test_only_the_offices_clerks_send_and_only_the_citizen_acknowledges(
    world: World, http: httpx.AsyncClient
) -> None:
    refused = await _send(http, world, world.headers["citizen"])
    assert refused.status_code == 403, refused.text
    assert refused.json()["type"].endswith(":clerk-only")
    for stranger in ("other_clerk", "other_citizen", "other_admin"):
        answer = await _send(http, world, world.headers[stranger])
        assert answer.status_code == 404, (stranger, answer.text)
        listed = await http.get(
            f"/documents/v1/bookings/{world.mine.booking_id}/room/documents",
            headers=world.headers[stranger],
        )
        assert listed.status_code == 404, (stranger, listed.text)

    sent = (await _send(http, world, world.headers["clerk"])).json()
    by_clerk = await http.post(
        f"/documents/v1/documents/{sent['id']}/acknowledgement", headers=world.headers["clerk"]
    )
    assert by_clerk.status_code == 403, by_clerk.text
    by_stranger = await http.post(
        f"/documents/v1/documents/{sent['id']}/acknowledgement",
        headers=world.headers["other_citizen"],
    )
    assert by_stranger.status_code == 404, by_stranger.text
    # The citizen's own upload is not the office's to acknowledge.
    own = await http.post(
        f"/documents/v1/documents/{world.mine.document_id}/acknowledgement",
        headers=world.headers["citizen"],
    )
    assert own.status_code == 409, own.text
    # Nor is a clerk's document reviewed.
    reviewed = await http.post(
        f"/documents/v1/documents/{sent['id']}/review",
        json={"decision": "accepted"},
        headers=world.headers["clerk"],
    )
    assert reviewed.status_code == 403, reviewed.text


async def test_the_offices_document_passes_the_checks_of_an_upload(
    world: World, http: httpx.AsyncClient
) -> None:
    text = await http.post(
        f"/documents/v1/bookings/{world.mine.booking_id}/room/documents",
        content=b"#!/bin/sh\necho not a document\n",
        headers={**world.headers["clerk"], "content-type": "application/pdf"},
    )
    assert text.status_code == 415, text.text
    broken = await http.post(
        f"/documents/v1/bookings/{world.mine.booking_id}/room/documents",
        content=b"%PDF-1.7\n" + b"\x00" * 200,
        headers={**world.headers["clerk"], "content-type": "application/pdf"},
    )
    assert broken.status_code == 415, broken.text
