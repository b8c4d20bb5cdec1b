"""Documents against the real booking service on a live loopback server.

Booking decides who may see a booking (its citizen, the office's clerks, the manage link);
documents passes the caller's credentials on and must agree. Both apps trust the same test
token keys; each has its own fresh database at head, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from documents.main import create_app as create_documents_app
from servicekit.testing.live import LiveServer
from servicekit.testing.plugin import DatabaseRegistry
from servicekit.testing.tokens import TokenFactory
from tests.documents_booking.files import pdf
from tests.documents_booking.live_booking import (
    TENANT,
    book,
    cancel,
    documents_settings,
    fresh_database,
    local_start,
    set_up_office,
    start_booking_server,
)

PDF = pdf(3000)


@pytest.fixture
def booking_server(
    tokens: TokenFactory, database_registry: DatabaseRegistry, db_backend: str
) -> Iterator[LiveServer]:
    server = start_booking_server(tokens, fresh_database(database_registry, db_backend, "booking"))
    yield server
    server.stop()


@pytest.fixture
async def documents(
    tmp_path: Path,
    tokens: TokenFactory,
    booking_server: LiveServer,
    database_registry: DatabaseRegistry,
    db_backend: str,
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_documents_app(
        documents_settings(
            fresh_database(database_registry, db_backend, "documents"),
            tmp_path / "blobs",
            booking_server.url,
        )
    )
    tokens.trust(app)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://documents") as client:
            yield client


async def test_citizen_clerk_and_strangers_against_real_booking(
    documents: httpx.AsyncClient, booking_server: LiveServer, tokens: TokenFactory
) -> None:
    citizen = tokens.headers(sub="citizen-1", tenant=TENANT, roles=["citizen"])
    stranger = tokens.headers(sub="citizen-2", tenant=TENANT, roles=["citizen"])
    clerk = tokens.headers(sub="clerk-1", tenant=TENANT, roles=["clerk"])
    other_clerk = tokens.headers(sub="clerk-2", tenant=TENANT, roles=["clerk"])
    async with httpx.AsyncClient(base_url=booking_server.url) as booking:
        office = await set_up_office(booking, tokens)
        mine = await book(booking, office, start=local_start(7, 9), headers=citizen)

        upload = await documents.post(
            mine.upload_path(0),
            content=PDF,
            headers=citizen,
            params={"filename": "Lichtbild.pdf"},
        )
        assert upload.status_code == 201, upload.text
        document_id = upload.json()["id"]

        listed = await documents.get(mine.documents_path, headers=citizen)
        assert listed.status_code == 200
        assert [i["status"] for i in listed.json()["items"]] == ["submitted", "missing"]
        assert listed.json()["complete"] is False

        by_clerk = await documents.get(
            f"/documents/v1/documents/{document_id}/content",
            headers=clerk,
            params={"purpose": "Terminvorbereitung"},
        )
        assert by_clerk.status_code == 200
        assert by_clerk.content == PDF

        for headers in (stranger, other_clerk, {"X-Manage-Token": "guessed"}):
            denied = await documents.get(
                f"/documents/v1/documents/{document_id}/content",
                headers=headers,
                params={"purpose": "x"},
            )
            assert denied.status_code == 404, headers

        by_link = await documents.get(
            f"/documents/v1/documents/{document_id}/content",
            headers={"X-Manage-Token": mine.manage_token},
        )
        assert by_link.status_code == 200

        cancelled = await cancel(booking, mine)
        assert cancelled.status_code == 200, cancelled.text
        late = await documents.post(
            mine.upload_path(1),
            content=PDF,
            headers=citizen,
        )
        assert late.status_code == 409
        assert late.json()["type"] == "urn:rathaus:problem:booking-closed"


async def test_anonymous_booking_uploads_with_its_manage_link(
    documents: httpx.AsyncClient, booking_server: LiveServer, tokens: TokenFactory
) -> None:
    async with httpx.AsyncClient(base_url=booking_server.url) as booking:
        office = await set_up_office(booking, tokens)
        anonymous = await book(booking, office, start=local_start(7, 10))
    link = {"X-Manage-Token": anonymous.manage_token}

    for item_id in anonymous.item_ids:
        response = await documents.post(
            f"/documents/v1/bookings/{anonymous.booking_id}/items/{item_id}/documents",
            files={"file": ("scan.pdf", PDF, "application/pdf")},
            headers=link,
        )
        assert response.status_code == 201, response.text
    listed = await documents.get(anonymous.documents_path, headers=link)

    assert listed.json()["complete"] is True
    assert listed.json()["booking_id"] == anonymous.booking_id
