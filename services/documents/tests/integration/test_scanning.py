"""Malware scanning end to end: the running documents service (uvicorn) asks a real clamd
(``tests/clamd.py``), and each of clamd's answers has its outcome.

found       201, ``scan_status: infected``: kept quarantined, never handed out (409), the
            checklist item needs a replacement
clean       201, ``clean``: downloadable
size limit  413 ``too-large-to-scan``: nothing is kept (the file fits the upload limit but not
            clamd's StreamMaxLength)
no answer   201, ``pending``: never handed out until a rescan (the service's own, every
            RESCAN_INTERVAL_S) gets a verdict from clamd once it is back; /readyz stays 200
            but says ``degraded``
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from documents.main import create_app
from documents.scanning.scanner import ClamdScanner
from documents.uploads.service import rescan_pending
from servicekit.db import Database
from servicekit.testing.live import free_port
from servicekit.testing.tokens import TokenFactory
from tests.documents_booking.live_booking import Appointment, LiveBooking

from ..clamd import EICAR, STREAM_MAX_BYTES, Clamd
from ..conftest import LiveDocuments
from ..factories import PASSPORT, citizen, clerk, pdf, settings_for_tests


def content_path(document: dict[str, Any]) -> str:
    return f"/documents/v1/documents/{document['id']}/content"


async def upload(
    client: httpx.AsyncClient, tokens: TokenFactory, appointment: Appointment, body: bytes
) -> httpx.Response:
    return await client.post(
        appointment.upload_path(PASSPORT), content=body, headers=citizen(tokens)
    )


async def scan_status_after_rescans(
    client: httpx.AsyncClient, tokens: TokenFactory, document: dict[str, Any]
) -> str:
    """The document's scan status once the service's rescanner has changed it (or gave up)."""
    status = "pending"
    for _ in range(400):
        got = await client.get(f"/documents/v1/documents/{document['id']}", headers=citizen(tokens))
        status = got.json()["scan_status"]
        if status != "pending":
            break
        await asyncio.sleep(0.05)
    return status


async def test_a_clean_upload_is_released(
    clamd: Clamd,
    fresh_database_url: str,
    start_live_documents: LiveDocuments,
    appointment: Appointment,
    tokens: TokenFactory,
) -> None:
    server, _ = start_live_documents(fresh_database_url, **clamd.settings())
    body = pdf()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        created = await upload(client, tokens, appointment, body)
        downloaded = await client.get(content_path(created.json()), headers=citizen(tokens))

    assert created.status_code == 201, created.text
    assert created.json()["scan_status"] == "clean"
    assert downloaded.status_code == 200
    assert downloaded.content == body


async def test_an_infected_upload_is_kept_quarantined_and_never_handed_out(
    clamd: Clamd,
    fresh_database_url: str,
    start_live_documents: LiveDocuments,
    appointment: Appointment,
    tokens: TokenFactory,
) -> None:
    server, _ = start_live_documents(fresh_database_url, **clamd.settings())
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        created = await upload(client, tokens, appointment, pdf(marker=EICAR))
        by_citizen = await client.get(content_path(created.json()), headers=citizen(tokens))
        by_clerk = await client.get(
            content_path(created.json()), headers=clerk(tokens), params={"purpose": "Prüfung"}
        )
        listed = await client.get(appointment.documents_path, headers=citizen(tokens))

    assert created.status_code == 201, created.text
    assert created.json()["scan_status"] == "infected"
    for refused in (by_citizen, by_clerk):
        assert refused.status_code == 409
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"] == "urn:rathaus:problem:document-not-released"
        assert refused.json()["scan_status"] == "infected"
    assert listed.json()["items"][PASSPORT]["status"] == "needs_replacement"


async def test_a_file_larger_than_clamd_reads_is_refused_and_nothing_is_kept(
    clamd: Clamd,
    fresh_database_url: str,
    start_live_documents: LiveDocuments,
    appointment: Appointment,
    tokens: TokenFactory,
) -> None:
    # Misconfigured on purpose: the upload limit lies above clamd's StreamMaxLength.
    server, app = start_live_documents(
        fresh_database_url, max_upload_bytes=2 * STREAM_MAX_BYTES, **clamd.settings()
    )
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        refused = await upload(client, tokens, appointment, pdf(STREAM_MAX_BYTES + 200_000))
        within = await upload(client, tokens, appointment, pdf(STREAM_MAX_BYTES - 100_000))
        listed = await client.get(appointment.documents_path, headers=citizen(tokens))

    assert refused.status_code == 413, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "urn:rathaus:problem:too-large-to-scan"
    assert within.status_code == 201
    assert within.json()["scan_status"] == "clean"
    assert [d["id"] for d in listed.json()["items"][PASSPORT]["documents"]] == [within.json()["id"]]
    assert len(await app.state.blob_store.list_ids()) == 1  # the accepted upload's
    assert await app.state.blob_store.list_partials() == []


async def test_with_clamd_stopped_uploads_stay_pending_until_it_is_back(
    own_clamd: Clamd,
    fresh_database_url: str,
    start_live_documents: LiveDocuments,
    appointment: Appointment,
    tokens: TokenFactory,
) -> None:
    server, _ = start_live_documents(
        fresh_database_url,
        rescan_interval_s=0.05,
        **{**own_clamd.settings(), "scanner_timeout_s": 2},
    )
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        ready = await client.get("/readyz")
        own_clamd.stop()
        created = await upload(client, tokens, appointment, pdf())
        withheld = await client.get(content_path(created.json()), headers=citizen(tokens))
        degraded = await client.get("/readyz")
        still_pending = await scan_status_after_rescans(client, tokens, created.json())

        own_clamd.start()
        released = await scan_status_after_rescans(client, tokens, created.json())
        downloaded = await client.get(content_path(created.json()), headers=citizen(tokens))
        ready_again = await client.get("/readyz")

    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ok",
        "checks": {"database": "ok", "blob_store": "ok", "scanner": "ok"},
    }
    assert created.status_code == 201, created.text
    assert created.json()["scan_status"] == "pending"
    assert withheld.status_code == 409
    assert withheld.json()["scan_status"] == "pending"
    # A scanner that is down leaves the replica in rotation: reads and uploads go on.
    assert degraded.status_code == 200
    assert degraded.json()["status"] == "degraded"
    assert degraded.json()["checks"]["scanner"].startswith("unavailable")
    assert still_pending == "pending"
    assert released == "clean"
    assert downloaded.status_code == 200
    assert ready_again.json()["status"] == "ok"


async def test_without_a_scanner_readiness_and_the_log_say_so(
    fresh_database_url: str,
    tmp_path: Path,
    live_booking: LiveBooking,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = create_app(
        settings_for_tests(
            fresh_database_url,
            blob_dir=tmp_path,
            booking_url=live_booking.url,
            events_subscribers=[],  # the lifespan runs: no dispatcher to start
        )
    )
    with caplog.at_level(logging.WARNING, logger="documents.main"):
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                readiness = await client.get("/readyz")

    assert readiness.status_code == 200
    assert readiness.json()["status"] == "degraded"
    assert readiness.json()["checks"]["scanner"] == "not configured: documents are not scanned"
    assert any("no malware scanner configured" in r.getMessage() for r in caplog.records)


async def test_a_pending_document_larger_than_clamd_reads_stays_pending_and_blocks_no_other(
    clamd: Clamd,
    fresh_database_url: str,
    start_live_documents: LiveDocuments,
    appointment: Appointment,
    tokens: TokenFactory,
) -> None:
    # Both uploaded while nothing answers on the scanner's port, the larger one first.
    server, app = start_live_documents(
        fresh_database_url,
        max_upload_bytes=2 * STREAM_MAX_BYTES,
        clamd_host="127.0.0.1",
        clamd_port=free_port(),
        scanner_timeout_s=2,
        rescan_interval_s=0,
    )
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        large = (await upload(client, tokens, appointment, pdf(STREAM_MAX_BYTES + 200_000))).json()
        small = (await upload(client, tokens, appointment, pdf())).json()
        database = Database(fresh_database_url)
        parts = {
            "keys": app.state.key_ring,
            "blobs": app.state.blob_store,
            "scanner": ClamdScanner(host="127.0.0.1", port=clamd.port, timeout_s=10),
            "limit": 1,
        }
        try:
            first_round = await rescan_pending(database.sessionmaker, **parts)
            second_round = await rescan_pending(database.sessionmaker, **parts)
        finally:
            await database.dispose()
        large_now = await client.get(
            f"/documents/v1/documents/{large['id']}", headers=citizen(tokens)
        )
        small_now = await client.get(
            f"/documents/v1/documents/{small['id']}", headers=citizen(tokens)
        )

    assert (large["scan_status"], small["scan_status"]) == ("pending", "pending")
    assert first_round == 0  # the oldest, read without a verdict
    assert second_round == 1  # then the next, not the oldest again
    assert large_now.json()["scan_status"] == "pending"
    assert small_now.json()["scan_status"] == "clean"
