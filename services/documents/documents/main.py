from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from fastapi import FastAPI

from documents import models  # noqa: F401 - registers every table on Base.metadata
from documents.calls.closing import close_due_rooms
from documents.calls.hub import CallHub
from documents.calls.protocol import CALL_PROTOCOL_DESCRIPTION
from documents.calls.router import router as calls_router
from documents.cases.router import router as cases_router
from documents.clients.booking import BookingClient
from documents.events.models import outbox_of
from documents.events.models import webhooks as event_webhooks
from documents.events.router import router as events_router
from documents.retention.router import router as retention_router
from documents.rooms.bell import RoomBell
from documents.rooms.router import router as rooms_router
from documents.scanning.scanner import NoScanner, Scanner, scanner_from
from documents.settings import DocumentsSettings
from documents.storage.factory import blob_store_from
from documents.uploads.models import UploadIdempotency
from documents.uploads.router import router as uploads_router
from documents.uploads.service import rescan_pending
from servicekit.app import create_service_app
from servicekit.db import utcnow
from servicekit.idempotency import IdempotencyStore
from servicekit.outbound.client import outbound_client
from servicekit.tracing import Tracing

log = logging.getLogger(__name__)


async def _rescan_forever(app: FastAPI, interval_s: float) -> None:
    """Documents left pending while the scanner was down get their verdict once it is back."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            # The app's parts as they are at this round (a test swaps the scanner meanwhile).
            await rescan_pending(
                app.state.database.sessionmaker,
                keys=app.state.key_ring,
                blobs=app.state.blob_store,
                scanner=app.state.scanner,
            )
        except Exception:  # the next round tries again; the loop must not die
            log.exception("rescanning pending documents failed")


async def _close_calls_forever(app: FastAPI, settings: DocumentsSettings) -> None:
    """LiveKit rooms whose call's window is over are closed (documents.calls.closing)."""
    while True:
        await asyncio.sleep(settings.call_close_interval_s)
        try:
            await close_due_rooms(app.state.database.sessionmaker, settings.livekit, utcnow())
        except Exception:  # the next round tries again; the loop must not die
            log.exception("closing LiveKit rooms failed")


def create_app(settings: DocumentsSettings | None = None) -> FastAPI:
    settings = settings or DocumentsSettings()
    blobs = blob_store_from(settings)
    tracing = Tracing.of(settings)
    booking = BookingClient(
        settings.booking_url,
        timeout_s=settings.booking_timeout_s,
        remember_s=settings.access_reuse_s,
        tracing=tracing,
    )

    # Partners' URLs are configured, not ours: every call to one is SSRF-checked and pinned.
    partner_http = outbound_client(
        settings.outbound_policy(), timeout_s=settings.handover_timeout_s, max_connections=20
    )

    loops: list[asyncio.Task[None]] = []
    calls = CallHub(max_sockets=settings.call_sockets_max, redis_url=settings.call_redis_url)

    async def scanner_state() -> str | None:
        # The scanner as it is now (a test swaps it), asked within the readiness timeout.
        scanner: Scanner = app.state.scanner
        return await scanner.state(settings.readiness_timeout_s / 2)

    async def start_loops(app: FastAPI) -> None:
        if isinstance(app.state.scanner, NoScanner):
            log.warning(
                "no malware scanner configured (DOCUMENTS_CLAMD_HOST or DOCUMENTS_CLAMD_SOCKET): "
                "every document counts as clean; production refuses this"
            )
        if settings.rescan_interval_s > 0 and not isinstance(app.state.scanner, NoScanner):
            loops.append(asyncio.create_task(_rescan_forever(app, settings.rescan_interval_s)))
        if settings.livekit and settings.call_close_interval_s > 0:
            loops.append(asyncio.create_task(_close_calls_forever(app, settings)))

    async def close_clients(_app: FastAPI) -> None:
        for task in loops:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await booking.aclose()
        await partner_http.aclose()
        await blobs.close()
        await calls.close()

    app = create_service_app(
        settings,
        title="Rathaus Documents",
        version="1.0.0",
        description=CALL_PROTOCOL_DESCRIPTION,
        routers=[
            uploads_router,
            rooms_router,
            calls_router,
            retention_router,
            events_router,
            cases_router,
        ],
        readiness_checks={"blob_store": blobs.check, "scanner": scanner_state},
        on_startup=[start_loops],
        on_shutdown=[close_clients],
        outbox=outbox_of(settings),
        webhooks=[event_webhooks],
        tracing=tracing,
    )
    # The long-lived parts requests share, each declared for routes in the dependencies
    # module of its feature (e.g. documents.storage.dependencies.BlobStoreDep).
    app.state.blob_store = blobs
    app.state.key_ring = settings.key_ring()
    app.state.scanner = scanner_from(settings)
    app.state.booking_client = booking
    app.state.partner_http = partner_http
    app.state.room_bell = RoomBell(settings.room_streams_max)
    app.state.call_hub = calls
    app.state.idempotency = IdempotencyStore(
        app.state.database,
        UploadIdempotency,
        ttl=timedelta(hours=settings.idempotency_ttl_hours),
        stale_after=timedelta(seconds=settings.idempotency_stale_seconds),
    )
    return app
