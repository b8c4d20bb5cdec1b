from __future__ import annotations

from fastapi import FastAPI

from documents import models  # noqa: F401 - registers every table on Base.metadata
from documents.settings import DocumentsSettings
from servicekit.app import create_service_app


def create_app(settings: DocumentsSettings | None = None) -> FastAPI:
    settings = settings or DocumentsSettings()
    return create_service_app(
        settings,
        title="Rathaus Documents",
        version="1.0.0",
        description=(
            "Documents for appointments: checked, encrypted uploads, consultation rooms, "
            "review and retention."
        ),
        routers=[],
    )
