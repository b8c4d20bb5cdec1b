from __future__ import annotations

from fastapi import FastAPI

from documents import models  # noqa: F401 - registers every table on Base.metadata
from documents.clients.booking import BookingClient
from documents.components import Components
from documents.retention.router import router as retention_router
from documents.scanning.scanner import scanner_from
from documents.settings import DocumentsSettings
from documents.storage.factory import blob_store_from
from documents.uploads.router import router as uploads_router
from servicekit.app import create_service_app


def build_components(settings: DocumentsSettings) -> Components:
    return Components(
        settings=settings,
        blobs=blob_store_from(settings),
        keys=settings.key_ring(),
        scanner=scanner_from(settings),
        booking=BookingClient(settings.booking_url, timeout_s=settings.booking_timeout_s),
    )


def create_app(settings: DocumentsSettings | None = None) -> FastAPI:
    settings = settings or DocumentsSettings()
    components = build_components(settings)

    async def close_components(_app: FastAPI) -> None:
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
        routers=[uploads_router, retention_router],
        readiness_checks={"blob_store": components.blobs.check},
        on_shutdown=[close_components],
    )
    app.state.components = components
    return app
