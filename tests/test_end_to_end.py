"""The system as a citizen meets it: every service on a real server, reached only via the gateway.

Identity signs real tokens; booking, documents and the gateway fetch its JWKS over HTTP. The
demo seeds of identity and booking provide the municipality, the citizen and the catalogue.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from servicekit.testing.plugin import DatabaseRegistry
from tests.documents_booking.files import pdf
from tests.live_rathaus import (
    ADMIN,
    CITIZEN,
    CLERK,
    TENANT,
    System,
    appointment_begins_now,
    book_first_slot,
    start_system,
)

ROOT = Path(__file__).resolve().parents[1]
PDF = pdf(2000)


@pytest.fixture
async def system(
    database_registry: DatabaseRegistry,
    db_backend: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> AsyncIterator[System]:
    running = await start_system(database_registry, db_backend, tmp_path / "blobs")
    capsys.readouterr()  # the seeds print demo credentials
    try:
        yield running
    finally:
        running.stop()


def _login(client: httpx.Client, credentials: dict[str, str]) -> dict[str, str]:
    response = client.post("/identity/v1/auth/login", json=credentials)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_citizen_books_with_pre_information_and_hands_in_a_document(system: System) -> None:
    with httpx.Client(base_url=system.gateway, timeout=20) as gateway:
        assert gateway.get("/readyz").status_code == 200
        citizen = _login(gateway, CITIZEN)
        booking_id, _ = book_first_slot(gateway, citizen)

        checklist = gateway.get(f"/booking/v1/bookings/{booking_id}/checklist", headers=citizen)
        item = checklist.json()["items"][0]["id"]
        upload = gateway.post(
            f"/documents/v1/bookings/{booking_id}/items/{item}/documents",
            content=PDF,
            headers={**citizen, "content-type": "application/pdf"},
        )
        assert upload.status_code == 201, upload.text
        document = upload.json()["id"]
        download = gateway.get(f"/documents/v1/documents/{document}/content", headers=citizen)
        assert download.status_code == 200, download.text
        assert download.content == PDF
        assert download.headers["x-request-id"]


def _subject(headers: dict[str, str]) -> str:
    payload = headers["Authorization"].split(".")[1]
    subject: str = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"]
    return subject


def test_the_day_of_the_appointment_check_in_call_outcome_and_kpis(system: System) -> None:
    with httpx.Client(base_url=system.gateway, timeout=20) as gateway:
        citizen = _login(gateway, CITIZEN)
        admin = _login(gateway, ADMIN)
        clerk = _login(gateway, CLERK)
        booking_id, office_id = book_first_slot(gateway, citizen)
        asyncio.run(appointment_begins_now(system.booking_database_url, booking_id))
        office = f"/booking/v1/tenants/{TENANT}/offices/{office_id}"
        staffed = gateway.put(f"{office}/staff/{_subject(clerk)}", headers=admin)
        assert staffed.status_code in {200, 201, 204}, staffed.text

        checked_in = gateway.post(f"/booking/v1/bookings/{booking_id}/check-in", headers=citizen)
        assert checked_in.status_code == 200, checked_in.text
        assert checked_in.json()["waiting_ahead"] == 0
        assert gateway.get(f"{office}/queue/board").json()["waiting"] == 1
        called = gateway.post(f"{office}/queue/call", json={"counter": "2"}, headers=clerk)
        assert called.status_code == 200, called.text
        assert called.json()["booking_id"] == booking_id
        done = gateway.post(
            f"/booking/v1/bookings/{booking_id}/complete", json={"resolved": True}, headers=clerk
        )
        assert done.status_code == 200, done.text
        rated = gateway.post(
            f"/booking/v1/bookings/{booking_id}/feedback", json={"rating": 5}, headers=citizen
        )
        assert rated.status_code == 200, rated.text

        today = datetime.now(UTC).date()
        kpis = gateway.get(
            f"/booking/v1/tenants/{TENANT}/kpis",
            # Around the appointment's local day, whatever the time zones' dates are now.
            params={
                "from": (today - timedelta(days=1)).isoformat(),
                "to": (today + timedelta(days=1)).isoformat(),
            },
            headers=admin,
        )
        assert kpis.status_code == 200, kpis.text
        assert kpis.json()["checked_in"] == 1
        assert kpis.json()["completed"] == 1
        assert kpis.json()["first_contact_resolution_rate"] == 1.0
        assert kpis.json()["satisfaction"]["mean"] == 5.0


def test_a_forged_token_is_refused_at_every_service_behind_the_gateway(system: System) -> None:
    with httpx.Client(base_url=system.gateway, timeout=20) as gateway:
        token = _login(gateway, CITIZEN)["Authorization"].split(" ", 1)[1]
        header, payload, signature = token.split(".")
        forged = ".".join(
            [header, payload, signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")]
        )

        for path in ("/booking/v1/bookings", "/documents/v1/documents/0"):
            response = gateway.get(path, headers={"Authorization": f"Bearer {forged}"})
            assert response.status_code == 401, (path, response.text)
            assert response.headers["content-type"] == "application/problem+json"


def _next_room_event(lines: Iterator[str]) -> dict[str, Any]:
    """The next event of a room's Server-Sent Events stream (comments skipped)."""
    data = None
    for line in lines:
        if line.startswith("data:"):
            data = line.removeprefix("data:").strip()
        elif not line and data is not None:
            event: dict[str, Any] = json.loads(data)
            return event
    raise AssertionError("the stream ended")


def test_citizen_and_clerk_meet_in_the_consultation_room(system: System) -> None:
    with (
        httpx.Client(base_url=system.gateway, timeout=20) as gateway,
        httpx.Client(base_url=system.gateway, timeout=20) as follower,
    ):
        citizen = _login(gateway, CITIZEN)
        admin = _login(gateway, ADMIN)
        clerk = _login(gateway, CLERK)
        booking_id, office_id = book_first_slot(gateway, citizen)
        office = f"/booking/v1/tenants/{TENANT}/offices/{office_id}"
        staffed = gateway.put(f"{office}/staff/{_subject(clerk)}", headers=admin)
        assert staffed.status_code in {200, 201, 204}, staffed.text
        room = f"/documents/v1/bookings/{booking_id}/room"

        with follower.stream("GET", f"{room}/stream", headers=clerk) as stream:
            assert stream.status_code == 200, stream.read()
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            item = gateway.get(
                f"/booking/v1/bookings/{booking_id}/checklist", headers=citizen
            ).json()["items"][0]["id"]
            upload = gateway.post(
                f"/documents/v1/bookings/{booking_id}/items/{item}/documents",
                content=PDF,
                headers=citizen,
            )
            asked = gateway.post(
                f"{room}/messages", json={"text": "Reicht ein Scan?"}, headers=citizen
            )
            uploaded, message = _next_room_event(lines), _next_room_event(lines)

        answer = gateway.post(f"{room}/messages", json={"text": "Ja."}, headers=clerk)
        seen_by_citizen = gateway.get(f"{room}/events", headers=citizen).json()["items"]

    assert upload.status_code == asked.status_code == answer.status_code == 201
    assert (uploaded["kind"], uploaded["document_id"]) == ("document_uploaded", upload.json()["id"])
    assert (message["kind"], message["text"], message["by_me"]) == (
        "message",
        "Reicht ein Scan?",
        False,
    )
    assert [(e["kind"], e["actor_role"], e["by_me"]) for e in seen_by_citizen] == [
        ("document_uploaded", "citizen", True),
        ("message", "citizen", True),
        ("message", "clerk", False),
    ]


def test_an_erased_account_is_erased_in_every_service(system: System) -> None:
    """One erasure at identity: booking and documents follow by events, nobody calls them."""
    with httpx.Client(base_url=system.gateway, timeout=20) as gateway:
        citizen = _login(gateway, CITIZEN)
        admin = _login(gateway, ADMIN)
        booking_id, _ = book_first_slot(gateway, citizen)
        item = gateway.get(f"/booking/v1/bookings/{booking_id}/checklist", headers=citizen).json()[
            "items"
        ][0]["id"]
        upload = gateway.post(
            f"/documents/v1/bookings/{booking_id}/items/{item}/documents",
            content=PDF,
            headers=citizen,
        )
        assert upload.status_code == 201, upload.text
        said = gateway.post(
            f"/documents/v1/bookings/{booking_id}/room/messages",
            json={"text": "Bis Dienstag"},
            headers=citizen,
        )
        assert said.status_code == 201, said.text
        account = _subject(citizen)

        erased = gateway.post(
            f"/identity/v1/tenants/{TENANT}/accounts/{account}/erasure", headers=admin
        )
        assert erased.status_code == 200, erased.text

        # The booking is cancelled and anonymous, its documents and room gone, within moments.
        deadline = time.monotonic() + 20
        while True:
            booking = gateway.get(f"/booking/v1/bookings/{booking_id}", headers=admin)
            documents = gateway.get(
                f"/documents/v1/bookings/{booking_id}/room/events", headers=admin
            )
            gone = booking.json().get("status") == "cancelled" and documents.status_code == 200
            if (gone and documents.json()["items"] == []) or time.monotonic() > deadline:
                break
            time.sleep(0.1)

    assert booking.json()["status"] == "cancelled", booking.text
    assert booking.json().get("name") is None
    assert documents.json()["items"] == [], documents.text
