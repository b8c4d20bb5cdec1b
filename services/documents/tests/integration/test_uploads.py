"""Upload safety, encryption at rest and access: the issue's "Done when" list."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from documents.clients.booking import BookingClient
from documents.storage.local import LocalBlobStore
from documents.uploads.models import Document
from servicekit.testing.tokens import TokenFactory
from tests.documents_booking.live_booking import (
    Appointment,
    LiveBooking,
    set_up_office,
    start_booking_server,
)

from ..factories import (
    CANARY,
    UPLOAD_LIMIT,
    citizen,
    clerk,
    jpeg,
    jpeg_claiming,
    pdf,
    pdf_then_executable,
    png,
    png_claiming,
    rows,
)


def store(app: FastAPI) -> LocalBlobStore:
    blobs = app.state.blob_store
    assert isinstance(blobs, LocalBlobStore)
    return blobs


async def assert_nothing_left(app: FastAPI, session: AsyncSession) -> None:
    assert await store(app).list_ids() == []
    assert await store(app).list_partials() == []
    assert await rows(session, Document) == 0


async def upload_raw(
    client: httpx.AsyncClient,
    appointment: Appointment,
    headers: dict[str, str],
    content: Any,
    **params: str,
) -> httpx.Response:
    return await client.post(
        appointment.upload_path(), content=content, headers=headers, params=params
    )


async def upload_multipart(
    client: httpx.AsyncClient,
    appointment: Appointment,
    headers: dict[str, str],
    data: bytes,
    filename: str,
) -> httpx.Response:
    return await client.post(
        appointment.upload_path(),
        files={"file": (filename, data, "application/pdf")},
        headers=headers,
    )


# -- accepted uploads -------------------------------------------------------------------


async def test_raw_pdf_upload_is_stored_encrypted_with_its_sha256(
    client: httpx.AsyncClient, app: FastAPI, appointment: Appointment, tokens: TokenFactory
) -> None:
    import hashlib

    data = pdf()

    response = await upload_raw(
        client, appointment, citizen(tokens), data, filename="Reisepass.pdf"
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["media_type"] == "application/pdf"
    assert body["display_name"] == "Reisepass.pdf"
    assert body["size_bytes"] == len(data)
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["scan_status"] == "clean"
    assert len(await store(app).list_ids()) == 1


async def test_multipart_png_upload_takes_the_type_from_the_content(
    client: httpx.AsyncClient, appointment: Appointment, tokens: TokenFactory
) -> None:
    response = await client.post(
        appointment.upload_path(),
        files={"file": ("foto.pdf", png(), "application/pdf")},
        headers=citizen(tokens),
    )

    assert response.status_code == 201, response.text
    assert response.json()["media_type"] == "image/png"
    assert response.json()["display_name"] == "foto.png"


async def test_blob_on_disk_holds_no_plaintext(
    client: httpx.AsyncClient, app: FastAPI, appointment: Appointment, tokens: TokenFactory
) -> None:
    response = await upload_raw(client, appointment, citizen(tokens), pdf(100_000))
    assert response.status_code == 201

    files = [p for p in store(app).directory.rglob("*") if p.is_file()]

    assert len(files) == 1
    on_disk = files[0].read_bytes()
    assert CANARY not in on_disk
    assert b"%PDF" not in on_disk


async def test_two_identical_uploads_give_different_ciphertexts(
    client: httpx.AsyncClient, app: FastAPI, appointment: Appointment, tokens: TokenFactory
) -> None:
    data = pdf()
    for _ in range(2):
        assert (await upload_raw(client, appointment, citizen(tokens), data)).status_code == 201

    blobs = [p.read_bytes() for p in store(app).directory.rglob("*") if p.is_file()]

    assert len(blobs) == 2
    assert blobs[0] != blobs[1]


async def test_exactly_the_limit_is_accepted(
    client: httpx.AsyncClient, appointment: Appointment, tokens: TokenFactory
) -> None:
    response = await upload_raw(client, appointment, citizen(tokens), pdf(UPLOAD_LIMIT))

    assert response.status_code == 201, response.text
    assert response.json()["size_bytes"] == UPLOAD_LIMIT


# -- refused uploads: right problem, nothing left behind ---------------------------------


@pytest.mark.parametrize(
    ("content", "filename"),
    [
        (b"<?php system($_GET['cmd']); ?>\n" + b"A" * 1000, "invoice.pdf"),
        (b"<html><body><script>alert(document.cookie)</script></body></html>", "scan.pdf"),
        (
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg">'
            b"<script>alert(1)</script></svg>",
            "photo.png",
        ),
        (b"%PDF-1.7\n<script>alert(1)</script>" + b"0" * 100, "polyglot.pdf"),
        (b"MZ\x90\x00" + os.urandom(3000), "setup.pdf"),
        (b"", "empty.pdf"),
    ],
    ids=["php-renamed-pdf", "html-script", "svg-script", "pdf-html-polyglot", "exe", "empty"],
)
async def test_content_outside_the_allow_list_is_415_and_leaves_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    session: AsyncSession,
    appointment: Appointment,
    tokens: TokenFactory,
    content: bytes,
    filename: str,
) -> None:
    response = await upload_multipart(client, appointment, citizen(tokens), content, filename)

    assert response.status_code == 415
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:rathaus:problem:unsupported-file-type"
    await assert_nothing_left(app, session)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (png_claiming(100_000, 100_000), "pixels"),
        (jpeg_claiming(65_535, 65_535), "pixels"),
        (pdf_then_executable(), "does not open as a PDF"),
    ],
    ids=["png-bomb", "jpeg-bomb", "pdf-then-elf"],
)
async def test_what_a_viewer_cannot_safely_open_is_415_and_leaves_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    session: AsyncSession,
    appointment: Appointment,
    tokens: TokenFactory,
    content: bytes,
    reason: str,
) -> None:
    raw = await upload_raw(client, appointment, citizen(tokens), content)
    multipart = await upload_multipart(client, appointment, citizen(tokens), content, "file.pdf")

    for response in (raw, multipart):
        assert response.status_code == 415, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "urn:rathaus:problem:unsupported-file-type"
        assert reason in response.json()["detail"]
    await assert_nothing_left(app, session)


async def test_a_type_the_checklist_item_does_not_take_is_415_and_leaves_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    session: AsyncSession,
    live_booking: LiveBooking,
    tokens: TokenFactory,
) -> None:
    office = await set_up_office(
        live_booking.http, tokens, accepted_formats=("original", "image/jpeg")
    )
    appointment = await live_booking.book(live_booking.citizen, office=office)
    try:
        as_pdf = await upload_raw(client, appointment, citizen(tokens), pdf())
        as_png = await upload_multipart(client, appointment, citizen(tokens), png(), "foto.png")

        for response in (as_pdf, as_png):
            assert response.status_code == 415, response.text
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["type"] == "urn:rathaus:problem:unsupported-file-type"
            assert response.json()["accepted_media_types"] == ["image/jpeg"]
        await assert_nothing_left(app, session)

        as_jpeg = await upload_raw(client, appointment, citizen(tokens), jpeg())
        assert as_jpeg.status_code == 201, as_jpeg.text
        assert as_jpeg.json()["media_type"] == "image/jpeg"
    finally:
        await live_booking.cancel(appointment)


@pytest.mark.parametrize("name", ["../../etc/passwd", "..\\..\\windows\\win.ini", "/etc/passwd"])
async def test_path_in_the_file_name_is_422_and_leaves_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    session: AsyncSession,
    appointment: Appointment,
    tokens: TokenFactory,
    name: str,
) -> None:
    multipart = await upload_multipart(client, appointment, citizen(tokens), pdf(), name)
    raw = await upload_raw(client, appointment, citizen(tokens), pdf(), filename=name)

    for response in (multipart, raw):
        assert response.status_code == 422
        assert response.json()["type"] == "urn:rathaus:problem:invalid-file-name"
    await assert_nothing_left(app, session)


async def test_one_byte_over_the_limit_is_413_and_leaves_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    session: AsyncSession,
    appointment: Appointment,
    tokens: TokenFactory,
) -> None:
    raw = await upload_raw(client, appointment, citizen(tokens), pdf(UPLOAD_LIMIT + 1))
    multipart = await upload_multipart(
        client, appointment, citizen(tokens), pdf(UPLOAD_LIMIT + 1), "big.pdf"
    )

    for response in (raw, multipart):
        assert response.status_code == 413
        assert response.json()["type"] == "urn:rathaus:problem:upload-too-large"
        assert response.json()["limit_bytes"] == UPLOAD_LIMIT
    await assert_nothing_left(app, session)


async def test_chunked_body_without_length_is_cut_off_with_413_and_leaves_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    session: AsyncSession,
    appointment: Appointment,
    tokens: TokenFactory,
) -> None:
    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        yield pdf(10_000)
        while sent < 50 * UPLOAD_LIMIT:
            sent += 8192
            yield b"0" * 8192

    response = await upload_raw(client, appointment, citizen(tokens), endless())

    assert response.status_code == 413
    assert response.json()["type"] == "urn:rathaus:problem:upload-too-large"
    assert sent < 2 * UPLOAD_LIMIT  # the service stopped reading soon after the limit
    await assert_nothing_left(app, session)


async def test_declared_length_over_the_limit_is_refused_before_reading(
    client: httpx.AsyncClient,
    app: FastAPI,
    session: AsyncSession,
    appointment: Appointment,
    tokens: TokenFactory,
) -> None:
    reads: list[int] = []

    async def body() -> AsyncIterator[bytes]:
        reads.append(1)
        yield b"%PDF-"

    headers = {**citizen(tokens), "Content-Length": str(UPLOAD_LIMIT + 1)}
    response = await client.post(appointment.upload_path(), content=body(), headers=headers)

    assert response.status_code == 413
    assert reads == [], "the body must not be read"
    await assert_nothing_left(app, session)


async def test_multipart_without_a_file_part_is_400(
    client: httpx.AsyncClient,
    app: FastAPI,
    session: AsyncSession,
    appointment: Appointment,
    tokens: TokenFactory,
) -> None:
    response = await client.post(
        appointment.upload_path(),
        data={"note": "hello"},
        files={"other": ("a", b"x")},
        headers=citizen(tokens),
    )

    assert response.status_code == 400
    assert response.json()["type"] == "urn:rathaus:problem:missing-file"
    await assert_nothing_left(app, session)


@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/form-data",
        "multipart/form-data; boundary=",
        "multipart/form-data; boundary=" + "b" * 300,
    ],
    ids=["no-boundary", "empty-boundary", "overlong-boundary"],
)
async def test_multipart_without_a_usable_boundary_is_400_and_leaves_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    session: AsyncSession,
    appointment: Appointment,
    tokens: TokenFactory,
    content_type: str,
) -> None:
    response = await client.post(
        appointment.upload_path(),
        content=pdf(),
        headers={**citizen(tokens), "Content-Type": content_type},
    )

    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:rathaus:problem:missing-file"
    assert "boundary" in response.json()["detail"]
    await assert_nothing_left(app, session)


async def test_per_tenant_limit_overrides_the_default(
    client: httpx.AsyncClient,
    app: FastAPI,
    session: AsyncSession,
    appointment: Appointment,
    tokens: TokenFactory,
) -> None:
    settings = app.state.settings
    app.state.settings = settings.model_copy(
        update={"tenant_max_upload_bytes": {"06999001": 10_000}}
    )

    response = await upload_raw(client, appointment, citizen(tokens), pdf(10_001))

    assert response.status_code == 413
    assert response.json()["limit_bytes"] == 10_000
    await assert_nothing_left(app, session)


# -- access ------------------------------------------------------------------------------


async def test_unknown_checklist_item_is_404(
    client: httpx.AsyncClient, appointment: Appointment, tokens: TokenFactory
) -> None:
    response = await client.post(
        f"/documents/v1/bookings/{appointment.booking_id}/items/nonsense/documents",
        content=pdf(),
        headers=citizen(tokens),
    )

    assert response.status_code == 404
    assert response.json()["type"] == "urn:rathaus:problem:checklist-item-not-found"


async def test_another_citizens_booking_and_document_are_404(
    client: httpx.AsyncClient, appointment: Appointment, tokens: TokenFactory
) -> None:
    created = await upload_raw(client, appointment, citizen(tokens), pdf())
    document_id = created.json()["id"]
    stranger = citizen(tokens, sub="citizen-2")

    for response in (
        await client.get(f"/documents/v1/documents/{document_id}", headers=stranger),
        await client.get(f"/documents/v1/documents/{document_id}/content", headers=stranger),
        await client.delete(f"/documents/v1/documents/{document_id}", headers=stranger),
        await client.get(appointment.documents_path, headers=stranger),
        await upload_raw(client, appointment, stranger, pdf()),
    ):
        assert response.status_code == 404, response.text
    unknown = await client.get(f"/documents/v1/documents/{'0' * 32}", headers=stranger)
    assert unknown.status_code == 404
    assert unknown.json() == {
        **unknown.json(),
        "type": "urn:rathaus:problem:document-not-found",
    }


async def test_clerk_of_another_municipality_gets_404(
    client: httpx.AsyncClient, appointment: Appointment, tokens: TokenFactory
) -> None:
    document_id = (await upload_raw(client, appointment, citizen(tokens), pdf())).json()["id"]

    response = await client.get(
        f"/documents/v1/documents/{document_id}/content",
        headers=clerk(tokens, tenant="05315000"),
        params={"purpose": "curious"},
    )

    assert response.status_code == 404


async def test_clerk_of_another_office_gets_404_while_the_offices_clerk_reads(
    client: httpx.AsyncClient, appointment: Appointment, tokens: TokenFactory
) -> None:
    # Booking decides by its office staff: clerk-1 works at the appointment's office, clerk-2
    # at another office of the same municipality.
    document_id = (await upload_raw(client, appointment, citizen(tokens), pdf())).json()["id"]
    url = f"/documents/v1/documents/{document_id}/content"
    purpose = {"purpose": "Terminvorbereitung"}

    of_the_office = await client.get(url, headers=clerk(tokens), params=purpose)
    of_another = await client.get(url, headers=clerk(tokens, sub="clerk-2"), params=purpose)
    listed = await client.get(appointment.documents_path, headers=clerk(tokens, sub="clerk-2"))

    assert of_the_office.status_code == 200
    assert of_another.status_code == 404
    assert listed.status_code == 404


async def test_without_any_credentials_it_is_401(
    client: httpx.AsyncClient, appointment: Appointment
) -> None:
    response = await client.get(appointment.documents_path)

    assert response.status_code == 401
    assert response.json()["type"] == "urn:rathaus:problem:invalid-token"


async def test_manage_link_token_gives_the_citizen_access(
    client: httpx.AsyncClient, appointment: Appointment
) -> None:
    created = await upload_raw(client, appointment, appointment.link, pdf(), filename="pass.pdf")
    wrong = await client.get(appointment.documents_path, headers={"X-Manage-Token": "guess"})

    assert created.status_code == 201
    assert wrong.status_code == 404


async def test_booking_down_fails_closed_with_503(
    client: httpx.AsyncClient,
    app: FastAPI,
    session: AsyncSession,
    appointment: Appointment,
    live_booking: LiveBooking,
    tokens: TokenFactory,
) -> None:
    # A booking server of its own on the same booking database, shut down midway: documents
    # then meets a closed port, as when booking is down.
    server = start_booking_server(tokens, live_booking.database_url)
    usual = app.state.booking_client
    app.state.booking_client = BookingClient(server.url)
    try:
        while_up = await client.get(appointment.documents_path, headers=citizen(tokens))
        server.stop()
        response = await upload_raw(client, appointment, citizen(tokens), pdf())
    finally:
        server.stop()
        await app.state.booking_client.aclose()
        app.state.booking_client = usual

    assert while_up.status_code == 200
    assert response.status_code == 503
    assert response.json()["type"] == "urn:rathaus:problem:booking-unavailable"
    await assert_nothing_left(app, session)


# -- download ----------------------------------------------------------------------------


async def test_download_streams_the_plaintext_as_an_attachment(
    client: httpx.AsyncClient, appointment: Appointment, tokens: TokenFactory
) -> None:
    data = pdf(50_000)
    document_id = (
        await upload_raw(client, appointment, citizen(tokens), data, filename="Bürger Antrag.pdf")
    ).json()["id"]

    response = await client.get(
        f"/documents/v1/documents/{document_id}/content", headers=citizen(tokens)
    )

    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert "filename*=UTF-8''B%C3%BCrger%20Antrag.pdf" in response.headers["content-disposition"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-length"] == str(len(data))


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


async def test_flipped_byte_in_the_first_chunk_is_an_integrity_error(
    client: httpx.AsyncClient, app: FastAPI, appointment: Appointment, tokens: TokenFactory
) -> None:
    document_id = (await upload_raw(client, appointment, citizen(tokens), pdf(20_000))).json()["id"]
    [blob] = [p for p in store(app).directory.rglob("*") if p.is_file()]
    _flip(blob, 100)

    response = await client.get(
        f"/documents/v1/documents/{document_id}/content", headers=citizen(tokens)
    )

    assert response.status_code == 500
    assert response.json()["type"] == "urn:rathaus:problem:document-integrity-error"
    assert CANARY not in response.content


async def test_flipped_byte_later_on_aborts_the_stream_without_altered_bytes(
    client: httpx.AsyncClient, app: FastAPI, appointment: Appointment, tokens: TokenFactory
) -> None:
    data = pdf(60_000)
    document_id = (await upload_raw(client, appointment, citizen(tokens), data)).json()["id"]
    [blob] = [p for p in store(app).directory.rglob("*") if p.is_file()]
    _flip(blob, blob.stat().st_size - 100)  # inside the last chunk
    received = bytearray()

    async def read_all() -> None:
        async with client.stream(
            "GET", f"/documents/v1/documents/{document_id}/content", headers=citizen(tokens)
        ) as response:
            assert response.status_code == 200
            async for chunk in response.aiter_raw():
                received.extend(chunk)

    with pytest.raises(Exception, match="chunk"):
        await read_all()

    assert len(received) < len(data)
    assert data.startswith(bytes(received))


async def test_cancelled_booking_takes_no_more_uploads(
    client: httpx.AsyncClient,
    app: FastAPI,
    session: AsyncSession,
    appointment: Appointment,
    live_booking: LiveBooking,
    tokens: TokenFactory,
) -> None:
    cancelled = await live_booking.cancel(appointment)

    response = await upload_raw(client, appointment, citizen(tokens), pdf())

    assert cancelled.status_code == 200, cancelled.text
    assert response.status_code == 409
    assert response.json()["type"] == "urn:rathaus:problem:booking-closed"
    await assert_nothing_left(app, session)


async def test_a_partner_client_gets_no_citizen_rights_on_a_booking_it_made(
    client: httpx.AsyncClient, live_booking: LiveBooking, tokens: TokenFactory
) -> None:
    partner = tokens.headers(sub="partner-1", tenant="06999001", roles=["partner"])
    made = await live_booking.book(partner)
    try:
        by_token = await client.get(made.documents_path, headers=partner)
        by_link = await client.get(made.documents_path, headers=made.link)
    finally:
        await live_booking.cancel(made)

    assert by_token.status_code == 404
    assert by_link.status_code == 200


async def test_missing_blob_is_an_integrity_error_not_a_crash(
    client: httpx.AsyncClient, app: FastAPI, appointment: Appointment, tokens: TokenFactory
) -> None:
    document_id = (await upload_raw(client, appointment, citizen(tokens), pdf())).json()["id"]
    for blob_id in await store(app).list_ids():
        await store(app).delete(blob_id)

    response = await client.get(
        f"/documents/v1/documents/{document_id}/content", headers=citizen(tokens)
    )

    assert response.status_code == 500
    assert response.json()["type"] == "urn:rathaus:problem:document-integrity-error"
