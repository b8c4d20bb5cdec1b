"""How documents spends booking's answers: reused for reads, raced against upload bodies.

* Reading a document may reuse booking's yes to the very same credentials from the last
  ``access_reuse_s`` seconds; a new token, an upload, a listing always ask booking, and a fresh
  no from booking ends the reuse at once.
* An upload's body streams in while booking is asked. A no (or a cancelled booking) stops the
  stream and leaves nothing behind; without a token (manage link) nothing is read before
  booking's yes.

Booking is the real service on a live loopback server, documents runs in-process.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from documents.main import create_app as create_documents_app
from documents.storage.local import LocalBlobStore
from documents.uploads.models import Document
from servicekit.db import Database
from servicekit.testing.live import LiveServer
from servicekit.testing.plugin import DatabaseRegistry
from servicekit.testing.tokens import TokenFactory
from tests.documents_booking.files import pdf
from tests.documents_booking.live_booking import (
    TENANT,
    Appointment,
    Office,
    book,
    cancel,
    distinct_slots,
    documents_settings,
    fresh_database,
    set_up_office,
    start_booking_server,
)

MIB = 1024 * 1024
PDF = pdf(5000)


def pdf_pieces(size: int) -> Iterator[bytes]:
    data = pdf(size)
    for start in range(0, size, 256 * 1024):
        yield data[start : start + 256 * 1024]


@dataclass
class Stack:
    booking: LiveServer
    booking_http: httpx.AsyncClient
    documents: httpx.AsyncClient
    app: FastAPI
    office: Office
    tokens: TokenFactory
    slots: Iterator[datetime] = field(default_factory=distinct_slots)

    async def book(self, headers: dict[str, str] | None = None) -> Appointment:
        return await book(self.booking_http, self.office, start=next(self.slots), headers=headers)

    async def nothing_left(self) -> bool:
        blobs = self.app.state.blob_store
        assert isinstance(blobs, LocalBlobStore)
        database: Database = self.app.state.database
        async with database.sessionmaker() as session:
            rows = await session.scalar(select(func.count()).select_from(Document))
        return await blobs.list_ids() == [] and await blobs.list_partials() == [] and rows == 0


@asynccontextmanager
async def running_stack(
    tmp_path: Path,
    tokens: TokenFactory,
    registry: DatabaseRegistry,
    backend: str,
    **settings: object,
) -> AsyncIterator[Stack]:
    booking = start_booking_server(tokens, fresh_database(registry, backend, "booking"))
    app = create_documents_app(
        documents_settings(
            fresh_database(registry, backend, "documents"),
            tmp_path / "blobs",
            booking.url,
            **{"max_upload_bytes": 16 * MIB, **settings},
        )
    )
    tokens.trust(app)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(base_url=booking.url, timeout=30) as booking_http,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://documents", timeout=30
            ) as documents,
        ):
            office = await set_up_office(booking_http, tokens)
            yield Stack(booking, booking_http, documents, app, office, tokens)
    finally:
        booking.stop()


@pytest.fixture
async def stack(
    tmp_path: Path, tokens: TokenFactory, database_registry: DatabaseRegistry, db_backend: str
) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path, tokens, database_registry, db_backend) as started:
        yield started


def citizen(tokens: TokenFactory) -> dict[str, str]:
    return tokens.headers(sub="citizen-1", tenant=TENANT, roles=["citizen"])


def content_path(document_id: str) -> str:
    return f"/documents/v1/documents/{document_id}/content"


# -- reusing booking's yes -----------------------------------------------------------------


async def test_reads_reuse_bookings_yes_for_the_same_credentials_only(stack: Stack) -> None:
    headers = citizen(stack.tokens)
    appointment = await stack.book(headers)
    uploaded = await stack.documents.post(appointment.upload_path(), content=PDF, headers=headers)
    assert uploaded.status_code == 201, uploaded.text
    document_id = uploaded.json()["id"]

    stack.booking.stop()  # from now on, every question to booking fails
    content = await stack.documents.get(content_path(document_id), headers=headers)
    metadata = await stack.documents.get(f"/documents/v1/documents/{document_id}", headers=headers)
    new_token = await stack.documents.get(content_path(document_id), headers=citizen(stack.tokens))
    upload = await stack.documents.post(appointment.upload_path(), content=PDF, headers=headers)
    listing = await stack.documents.get(appointment.documents_path, headers=headers)

    assert content.status_code == 200
    assert content.content == PDF
    assert metadata.status_code == 200
    for asked in (new_token, upload, listing):
        assert asked.status_code == 503, asked.text
        assert asked.json()["type"] == "urn:rathaus:problem:booking-unavailable"


async def test_reuse_ends_after_its_time(
    tmp_path: Path, tokens: TokenFactory, database_registry: DatabaseRegistry, db_backend: str
) -> None:
    async with running_stack(
        tmp_path, tokens, database_registry, db_backend, access_reuse_s=0.2
    ) as stack:
        headers = citizen(tokens)
        appointment = await stack.book(headers)
        uploaded = await stack.documents.post(
            appointment.upload_path(), content=PDF, headers=headers
        )
        assert uploaded.status_code == 201, uploaded.text
        await asyncio.sleep(0.3)
        stack.booking.stop()

        late = await stack.documents.get(content_path(uploaded.json()["id"]), headers=headers)

        assert late.status_code == 503


async def test_a_fresh_no_from_booking_ends_the_reuse_at_once(stack: Stack) -> None:
    headers = citizen(stack.tokens)
    clerk = stack.tokens.headers(sub="clerk-1", tenant=TENANT, roles=["clerk"])
    appointment = await stack.book(headers)
    uploaded = await stack.documents.post(appointment.upload_path(), content=PDF, headers=headers)
    document_id = uploaded.json()["id"]
    purpose = {"purpose": "Terminvorbereitung"}
    before = await stack.documents.get(content_path(document_id), headers=clerk, params=purpose)
    admin = stack.tokens.headers(sub="admin-1", tenant=TENANT, roles=["admin"])
    removed = await stack.booking_http.delete(
        f"/booking/v1/tenants/{TENANT}/offices/{stack.office.office_id}/staff/clerk-1",
        headers=admin,
    )

    listing = await stack.documents.get(appointment.documents_path, headers=clerk)
    after = await stack.documents.get(content_path(document_id), headers=clerk, params=purpose)

    assert before.status_code == 200
    assert removed.status_code == 204, removed.text
    assert listing.status_code == 404  # booking asked: no longer this clerk's office
    assert after.status_code == 404  # and the remembered yes is gone with it


# -- the body streams while booking is asked -----------------------------------------------


async def test_a_strangers_upload_is_refused_while_its_body_still_streams(stack: Stack) -> None:
    appointment = await stack.book(citizen(stack.tokens))
    stranger = stack.tokens.headers(sub="citizen-2", tenant=TENANT, roles=["citizen"])
    never = asyncio.Event()

    async def endless() -> AsyncIterator[bytes]:
        for piece in pdf_pieces(6 * MIB):  # more than is taken before booking's answer
            yield piece
        await never.wait()  # the body never ends: only a refusal can end the request
        yield b"0"

    response = await asyncio.wait_for(
        stack.documents.post(appointment.upload_path(), content=endless(), headers=stranger),
        timeout=30,
    )

    assert response.status_code == 404
    assert response.json()["type"] == "urn:rathaus:problem:booking-not-found"
    assert await stack.nothing_left()


async def test_a_body_that_came_before_bookings_no_leaves_nothing(stack: Stack) -> None:
    headers = citizen(stack.tokens)
    appointment = await stack.book(headers)
    cancelled = await cancel(stack.booking_http, appointment)
    assert cancelled.status_code == 200, cancelled.text

    response = await stack.documents.post(
        appointment.upload_path(), content=b"".join(pdf_pieces(2 * MIB)), headers=headers
    )

    assert response.status_code == 409
    assert response.json()["type"] == "urn:rathaus:problem:booking-closed"
    assert await stack.nothing_left()


async def test_without_a_token_nothing_is_read_before_bookings_yes(stack: Stack) -> None:
    appointment = await stack.book()
    reads: list[int] = []

    async def body() -> AsyncIterator[bytes]:
        reads.append(1)
        yield PDF

    guessed = await stack.documents.post(
        appointment.upload_path(), content=body(), headers={"X-Manage-Token": "guessed"}
    )
    by_link = await stack.documents.post(
        appointment.upload_path(), content=PDF, headers=appointment.link
    )

    assert guessed.status_code == 404
    assert reads == [], "the body of a caller booking refused must not be read"
    assert by_link.status_code == 201, by_link.text


async def test_a_large_upload_by_its_citizen_is_stored_whole(stack: Stack) -> None:
    headers = citizen(stack.tokens)
    appointment = await stack.book(headers)

    async def body() -> AsyncIterator[bytes]:
        for piece in pdf_pieces(12 * MIB):
            yield piece

    uploaded = await stack.documents.post(
        appointment.upload_path(), content=body(), headers=headers
    )
    document_id = uploaded.json()["id"]
    downloaded = await stack.documents.get(content_path(document_id), headers=headers)

    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["size_bytes"] == 12 * MIB
    assert downloaded.content == b"".join(pdf_pieces(12 * MIB))
