from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import FastAPI

from documents import models  # noqa: F401 - registers every table on Base.metadata
from documents.clients.booking import BookingClient
from documents.components import Components
from documents.events.models import outbox_of
from documents.events.models import webhooks as event_webhooks
from documents.events.router import router as events_router
from documents.retention.router import router as retention_router
from documents.rooms.bell import RoomBell
from documents.rooms.router import router as rooms_router
from documents.scanning.scanner import NoScanner, scanner_from
from documents.settings import DocumentsSettings
from documents.storage.factory import blob_store_from
from documents.uploads.router import router as uploads_router
from documents.uploads.service import rescan_pending
from servicekit.app import create_service_app

log = logging.getLogger(__name__)


def build_components(settings: DocumentsSettings) -> Components:
    return Components(
        settings=settings,
        blobs=blob_store_from(settings),
        keys=settings.key_ring(),
        scanner=scanner_from(settings),
        booking=BookingClient(
            settings.booking_url,
            timeout_s=settings.booking_timeout_s,
            remember_s=settings.access_reuse_s,
        ),
        bell=RoomBell(settings.room_streams_max),
        outbox=outbox_of(settings),
    )


async def _rescan_forever(app: FastAPI, components: Components) -> None:
    """Documents left pending while the scanner was down get their verdict once it is back."""
    while True:
        await asyncio.sleep(components.settings.rescan_interval_s)
        try:
            await rescan_pending(app.state.database.sessionmaker, components)
        except Exception:  # the next round tries again; the loop must not die
            log.exception("rescanning pending documents failed")


def create_app(settings: DocumentsSettings | None = None) -> FastAPI:
    settings = settings or DocumentsSettings()
    components = build_components(settings)

    rescanner: list[asyncio.Task[None]] = []

    async def start_rescanner(app: FastAPI) -> None:
        if settings.rescan_interval_s > 0 and not isinstance(components.scanner, NoScanner):
            rescanner.append(asyncio.create_task(_rescan_forever(app, components)))

    async def close_components(_app: FastAPI) -> None:
        for task in rescanner:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await components.booking.aclose()
        await components.blobs.close()

    app = create_service_app(
        settings,
        title="Rathaus Documents",
        version="1.0.0",
        description=(
            "Documents for appointments: checked, encrypted uploads, consultation rooms, "
            "review and retention."
        ),
        routers=[uploads_router, rooms_router, retention_router, events_router],
        readiness_checks={"blob_store": components.blobs.check},
        on_startup=[start_rescanner],
        on_shutdown=[close_components],
        outbox=components.outbox,
        webhooks=[event_webhooks],
    )
    app.state.components = components
    return app
