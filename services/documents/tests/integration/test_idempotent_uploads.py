"""Uploads with an Idempotency-Key: a retry stores one document, and keys are the caller's own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from documents.storage.local import LocalBlobStore
from documents.uploads.models import Document
from servicekit.testing.live import LiveServer
from servicekit.testing.tokens import TokenFactory
from tests.documents_booking.live_booking import Appointment, LiveBooking

from ..factories import PASSPORT, PHOTO, citizen, pdf, rows


def new_key() -> str:
    return str(uuid.uuid4())


async def blob_count(app: FastAPI) -> int:
    blobs = app.state.blob_store
    assert isinstance(blobs, LocalBlobStore)
    return len(await blobs.list_ids())


async def post(
    client: httpx.AsyncClient,
    appointment: Appointment,
    headers: dict[str, str],
    key: str,
    data: bytes,
    item: int = PASSPORT,
) -> httpx.Response:
    return await client.post(
        appointment.upload_path(item), content=data, headers={**headers, "Idempotency-Key": key}
    )


async def test_a_retried_upload_gets_the_first_answer_and_stores_one_document(
    client: httpx.AsyncClient,
    app: FastAPI,
    session: AsyncSession,
    appointment: Appointment,
    tokens: TokenFactory,
) -> None:
    key, data = new_key(), pdf()

    first = await post(client, appointment, citizen(tokens), key, data)
    # A fresh token of the same account: the retry of a client whose token was renewed.
    retry = await post(client, appointment, citizen(tokens), key, data)

    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    assert retry.status_code == 201, retry.text
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == first.json()
    assert await rows(session, Document) == 1
    assert await blob_count(app) == 1


async def test_a_retried_multipart_upload_is_replayed_too(
    client: httpx.AsyncClient, session: AsyncSession, appointment: Appointment, tokens: TokenFactory
) -> None:
    key, data = new_key(), pdf()
    answers = [
        await client.post(
            appointment.upload_path(),
            files={"file": ("pass.pdf", data, "application/pdf")},
            headers={**citizen(tokens), "Idempotency-Key": key},
        )
        for _ in range(2)
    ]

    assert [a.status_code for a in answers] == [201, 201]
    assert answers[1].headers["idempotent-replayed"] == "true"
    assert answers[1].json()["id"] == answers[0].json()["id"]
    assert await rows(session, Document) == 1


async def test_the_same_key_from_another_caller_never_sees_the_first_answer(
    client: httpx.AsyncClient,
    session: AsyncSession,
    appointment: Appointment,
    live_booking: LiveBooking,
    tokens: TokenFactory,
) -> None:
    key, data = new_key(), pdf()
    theirs = await live_booking.book(citizen(tokens, "citizen-2"))

    mine = await post(client, appointment, citizen(tokens), key, data)
    # The holder of the booking's manage link is someone else, even on the same booking.
    by_link = await post(client, appointment, appointment.link, key, data)
    by_stranger = await post(client, theirs, citizen(tokens, "citizen-2"), key, data)

    for response in (mine, by_link, by_stranger):
        assert response.status_code == 201, response.text
        assert "idempotent-replayed" not in response.headers
    assert len({mine.json()["id"], by_link.json()["id"], by_stranger.json()["id"]}) == 3
    assert by_stranger.json()["booking_id"] == theirs.booking_id
    assert await rows(session, Document) == 3
    await live_booking.cancel(theirs)


async def test_the_same_key_for_another_file_or_item_is_422_and_stores_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    session: AsyncSession,
    appointment: Appointment,
    tokens: TokenFactory,
) -> None:
    key = new_key()
    first = await post(client, appointment, citizen(tokens), key, pdf(marker=b"first"))

    other_file = await post(client, appointment, citizen(tokens), key, pdf(marker=b"other"))
    longer_file = await post(client, appointment, citizen(tokens), key, pdf(30_000))
    other_item = await post(client, appointment, citizen(tokens), key, pdf(), item=PHOTO)

    assert first.status_code == 201
    for response in (other_file, longer_file, other_item):
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "urn:rathaus:problem:idempotency-key-reused"
    assert await rows(session, Document) == 1
    assert await blob_count(app) == 1


async def test_a_refused_upload_forgets_its_key_so_the_retry_runs(
    client: httpx.AsyncClient, session: AsyncSession, appointment: Appointment, tokens: TokenFactory
) -> None:
    key = new_key()

    refused = await post(client, appointment, citizen(tokens), key, b"MZ\x90\x00 not a document")
    retried = await post(client, appointment, citizen(tokens), key, pdf())

    assert refused.status_code == 415
    assert retried.status_code == 201, retried.text
    assert "idempotent-replayed" not in retried.headers
    assert await rows(session, Document) == 1


async def test_a_malformed_key_is_422(
    client: httpx.AsyncClient, appointment: Appointment, tokens: TokenFactory
) -> None:
    response = await post(client, appointment, citizen(tokens), "short", pdf())

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_duplicate_while_the_first_still_streams_is_409_and_one_document_is_stored(
    live_documents: tuple[LiveServer, FastAPI], appointment: Appointment, tokens: TokenFactory
) -> None:
    server, app = live_documents
    headers = {**citizen(tokens), "Idempotency-Key": new_key()}
    data = pdf(40_000)
    duplicate_answered = asyncio.Event()

    async def stalled_body() -> AsyncIterator[bytes]:
        yield data[:20_000]
        await duplicate_answered.wait()  # the first upload is still streaming meanwhile
        yield data[20_000:]

    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        url = appointment.upload_path()
        first = asyncio.create_task(client.post(url, content=stalled_body(), headers=headers))
        await asyncio.sleep(0.3)
        duplicate = await client.post(url, content=data, headers=headers)
        duplicate_answered.set()
        answered = await first
        retry = await client.post(url, content=data, headers=headers)
        listed = await client.get(appointment.documents_path, headers=citizen(tokens))

    assert duplicate.status_code == 409, duplicate.text
    assert duplicate.json()["type"] == "urn:rathaus:problem:idempotent-request-in-progress"
    assert answered.status_code == 201, answered.text
    assert retry.status_code == 201
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json()["id"] == answered.json()["id"]
    assert len(listed.json()["items"][PASSPORT]["documents"]) == 1
    assert len(await app.state.blob_store.list_ids()) == 1
