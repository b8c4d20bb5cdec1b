"""Checklist completeness, clerk review, the clerk access log, withdrawal and scanning."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from documents.audit.models import AccessRecord
from documents.scanning.scanner import ClamdScanner
from documents.uploads.models import Document
from documents.uploads.service import rescan_pending
from servicekit.testing.tokens import TokenFactory
from tests.documents_booking.live_booking import Appointment, LiveBooking

from ..clamd import EICAR, Clamd
from ..factories import (
    PASSPORT,
    PHOTO,
    citizen,
    clerk,
    pdf,
    rows,
    upload,
)


async def checklist(
    client: httpx.AsyncClient, appointment: Appointment, headers: dict[str, str]
) -> dict[str, Any]:
    response = await client.get(
        appointment.documents_path,
        headers=headers,
        params={"purpose": "Termin"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_booking_is_complete_once_every_required_item_has_a_document(
    client: httpx.AsyncClient, appointment: Appointment, tokens: TokenFactory
) -> None:
    before = await checklist(client, appointment, citizen(tokens))
    await upload(client, tokens, appointment, PASSPORT)
    await upload(client, tokens, appointment, PHOTO)
    after = await checklist(client, appointment, citizen(tokens))

    assert before["complete"] is False
    assert [item["status"] for item in before["items"]] == ["missing"] * 3
    assert after["complete"] is True
    assert after["all_accepted"] is False
    assert [item["status"] for item in after["items"]] == ["submitted", "submitted", "missing"]


async def test_clerk_review_reaches_the_citizen_with_the_reason(
    client: httpx.AsyncClient, appointment: Appointment, tokens: TokenFactory
) -> None:
    passport = await upload(client, tokens, appointment, PASSPORT)
    photo = await upload(client, tokens, appointment, PHOTO)

    accepted = await client.post(
        f"/documents/v1/documents/{passport['id']}/review",
        json={"decision": "accepted"},
        headers=clerk(tokens),
    )
    rejected = await client.post(
        f"/documents/v1/documents/{photo['id']}/review",
        json={"decision": "needs_replacement", "reason": "Das Foto ist unscharf."},
        headers=clerk(tokens),
    )
    seen_by_citizen = await checklist(client, appointment, citizen(tokens))

    assert accepted.status_code == 200
    assert rejected.status_code == 200
    photo_item = seen_by_citizen["items"][1]
    assert photo_item["status"] == "needs_replacement"
    assert photo_item["documents"][0]["review_reason"] == "Das Foto ist unscharf."
    assert seen_by_citizen["complete"] is False

    await upload(client, tokens, appointment, PHOTO)
    replaced = await checklist(client, appointment, citizen(tokens))
    assert replaced["items"][1]["status"] == "submitted"
    assert replaced["complete"] is True


async def test_replacement_without_reason_is_422(
    client: httpx.AsyncClient, appointment: Appointment, tokens: TokenFactory
) -> None:
    document = await upload(client, tokens, appointment, PASSPORT)

    response = await client.post(
        f"/documents/v1/documents/{document['id']}/review",
        json={"decision": "needs_replacement"},
        headers=clerk(tokens),
    )

    assert response.status_code == 422


async def test_citizen_cannot_review(
    client: httpx.AsyncClient, appointment: Appointment, tokens: TokenFactory
) -> None:
    document = await upload(client, tokens, appointment, PASSPORT)

    response = await client.post(
        f"/documents/v1/documents/{document['id']}/review",
        json={"decision": "accepted"},
        headers=citizen(tokens),
    )

    assert response.status_code == 403
    assert response.json()["type"] == "urn:rathaus:problem:review-not-allowed"


async def test_every_clerk_read_is_logged_with_who_what_and_why(
    client: httpx.AsyncClient, session: AsyncSession, appointment: Appointment, tokens: TokenFactory
) -> None:
    document = await upload(client, tokens, appointment, PASSPORT)

    await checklist(client, appointment, clerk(tokens))
    content = await client.get(
        f"/documents/v1/documents/{document['id']}/content",
        headers=clerk(tokens),
        params={"purpose": "Prüfung vor dem Termin"},
    )
    await client.get(f"/documents/v1/documents/{document['id']}/content", headers=citizen(tokens))

    assert content.status_code == 200
    records = (await session.scalars(select(AccessRecord).order_by(AccessRecord.id))).all()
    assert [(r.actor, r.action, r.document_id) for r in records] == [
        ("clerk-1", "list", None),
        ("clerk-1", "download", document["id"]),
    ]
    assert records[1].purpose == "Prüfung vor dem Termin"
    assert records[1].booking_id == appointment.booking_id
    assert records[1].at is not None


async def test_clerk_download_without_purpose_is_refused(
    client: httpx.AsyncClient, appointment: Appointment, tokens: TokenFactory
) -> None:
    document = await upload(client, tokens, appointment, PASSPORT)

    response = await client.get(
        f"/documents/v1/documents/{document['id']}/content", headers=clerk(tokens)
    )

    assert response.status_code == 400
    assert response.json()["type"] == "urn:rathaus:problem:purpose-required"


@pytest.mark.parametrize(
    "statement", ["UPDATE document_access_log SET actor = 'x'", "DELETE FROM document_access_log"]
)
async def test_access_log_is_append_only_in_the_database(
    client: httpx.AsyncClient,
    session: AsyncSession,
    appointment: Appointment,
    tokens: TokenFactory,
    statement: str,
) -> None:
    await checklist(client, appointment, clerk(tokens))
    assert await rows(session, AccessRecord) == 1

    with pytest.raises((DBAPIError, IntegrityError)):
        async with session.begin_nested():
            await session.execute(text(statement))


async def test_withdrawn_document_loses_its_key_and_its_blob(
    client: httpx.AsyncClient,
    app: FastAPI,
    session: AsyncSession,
    appointment: Appointment,
    tokens: TokenFactory,
) -> None:
    document = await upload(client, tokens, appointment, PASSPORT)
    assert len(await app.state.blob_store.list_ids()) == 1

    by_clerk = await client.delete(
        f"/documents/v1/documents/{document['id']}", headers=clerk(tokens)
    )
    response = await client.delete(
        f"/documents/v1/documents/{document['id']}", headers=citizen(tokens)
    )
    again = await client.delete(
        f"/documents/v1/documents/{document['id']}", headers=citizen(tokens)
    )

    assert by_clerk.status_code == 403
    assert response.status_code == 204
    assert again.status_code == 404
    assert await session.get(Document, document["id"]) is None
    assert await app.state.blob_store.list_ids() == []


async def test_with_the_scanner_down_documents_stay_pending_and_are_not_handed_out(
    client: httpx.AsyncClient,
    app: FastAPI,
    session: AsyncSession,
    appointment: Appointment,
    tokens: TokenFactory,
    own_clamd: Clamd,
) -> None:
    app.state.scanner = ClamdScanner(host="127.0.0.1", port=own_clamd.port, timeout_s=2)
    own_clamd.stop()
    document = await upload(client, tokens, appointment, PASSPORT)

    pending = await client.get(
        f"/documents/v1/documents/{document['id']}/content", headers=citizen(tokens)
    )

    assert document["scan_status"] == "pending"
    assert pending.status_code == 409
    assert pending.json()["type"] == "urn:rathaus:problem:document-not-released"

    # The scanner is back: a rescan releases the document.
    own_clamd.start()
    state = app.state
    parts = {"keys": state.key_ring, "blobs": state.blob_store, "scanner": state.scanner}
    assert await rescan_pending(state.database.sessionmaker, **parts) == 1
    assert await rescan_pending(state.database.sessionmaker, **parts) == 0

    released = await client.get(
        f"/documents/v1/documents/{document['id']}/content", headers=citizen(tokens)
    )
    assert released.status_code == 200


async def test_infected_document_is_never_handed_out(
    client: httpx.AsyncClient,
    app: FastAPI,
    appointment: Appointment,
    tokens: TokenFactory,
    clamd: Clamd,
) -> None:
    app.state.scanner = ClamdScanner(host="127.0.0.1", port=clamd.port)
    document = await upload(client, tokens, appointment, PASSPORT, pdf(marker=EICAR))

    response = await client.get(
        f"/documents/v1/documents/{document['id']}/content", headers=citizen(tokens)
    )
    listed = await checklist(client, appointment, citizen(tokens))

    assert document["scan_status"] == "infected"
    assert response.status_code == 409
    assert listed["items"][0]["status"] == "needs_replacement"


async def test_citizen_sees_who_read_their_documents_and_why(
    client: httpx.AsyncClient, appointment: Appointment, tokens: TokenFactory
) -> None:
    document = await upload(client, tokens, appointment, PASSPORT)
    await client.get(
        f"/documents/v1/documents/{document['id']}/content",
        headers=clerk(tokens),
        params={"purpose": "Identitätsprüfung"},
    )

    access_log = f"/documents/v1/bookings/{appointment.booking_id}/access-log"
    response = await client.get(access_log, headers=citizen(tokens))
    stranger = await client.get(access_log, headers=citizen(tokens, sub="citizen-2"))

    assert response.status_code == 200
    [record] = response.json()["items"]
    assert record["actor"] == "clerk-1"
    assert record["action"] == "download"
    assert record["purpose"] == "Identitätsprüfung"
    assert record["document_id"] == document["id"]
    assert stranger.status_code == 404


async def test_citizen_withdraws_every_document_of_a_booking(
    client: httpx.AsyncClient,
    app: FastAPI,
    session: AsyncSession,
    appointment: Appointment,
    tokens: TokenFactory,
) -> None:
    await upload(client, tokens, appointment, PASSPORT)
    await upload(client, tokens, appointment, PHOTO)

    documents = appointment.documents_path
    by_clerk = await client.delete(documents, headers=clerk(tokens))
    response = await client.delete(documents, headers=citizen(tokens))

    assert by_clerk.status_code == 403
    assert response.status_code == 204
    assert await rows(session, Document) == 0
    assert await app.state.blob_store.list_ids() == []


async def test_rescheduled_appointment_moves_the_retention_start(
    client: httpx.AsyncClient,
    session: AsyncSession,
    appointment: Appointment,
    live_booking: LiveBooking,
    tokens: TokenFactory,
) -> None:
    document = await upload(client, tokens, appointment, PASSPORT)
    later = await live_booking.reschedule(appointment)

    await checklist(client, appointment, citizen(tokens))

    stored = await session.get(Document, document["id"], populate_existing=True)
    assert stored is not None
    assert later != appointment.starts_at
    assert stored.appointment_at == later


async def test_an_upload_after_a_reschedule_moves_the_other_documents_too(
    client: httpx.AsyncClient,
    session: AsyncSession,
    appointment: Appointment,
    live_booking: LiveBooking,
    tokens: TokenFactory,
) -> None:
    first = await upload(client, tokens, appointment, PASSPORT)
    later = await live_booking.reschedule(appointment)

    second = await upload(client, tokens, appointment, PHOTO)

    stored = [await session.get(Document, d["id"], populate_existing=True) for d in (first, second)]
    assert later != appointment.starts_at
    assert [d.appointment_at for d in stored if d is not None] == [later, later]
