"""``rathaus-documents``: the kit's serve|migrate|openapi, plus the maintenance commands

purge    delete documents past their tenant's retention period
rewrap   move every wrapped data key to the active key-encryption key
rescan   ask the scanner again about documents still pending
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fastapi import FastAPI

from documents.components import Components
from documents.main import create_app
from documents.retention.service import purge_expired
from documents.settings import DocumentsSettings
from documents.uploads.rotation import rewrap_all
from documents.uploads.service import rescan_pending
from servicekit.cli import run_cli
from servicekit.db import Database, utcnow
from servicekit.settings import ServiceSettings

SERVICE_DIR = Path(__file__).resolve().parents[1]
MAINTENANCE = {
    "purge": "delete documents past their tenant's retention period",
    "rewrap": "move every wrapped data key to the active key-encryption key",
    "rescan": "ask the scanner again about documents still pending",
}


def _create_app(settings: ServiceSettings) -> FastAPI:
    assert isinstance(settings, DocumentsSettings)
    return create_app(settings)


async def _maintain(command: str, settings: ServiceSettings, tenant: str | None) -> str:
    assert isinstance(settings, DocumentsSettings)
    app = create_app(settings)
    database: Database = app.state.database
    components: Components = app.state.components
    try:
        if command == "purge":
            count = await purge_expired(
                database.sessionmaker, components, now=utcnow(), tenant=tenant
            )
            return f"purged {count} documents"
        if command == "rewrap":
            count = await rewrap_all(database.sessionmaker, components.keys)
            return f"rewrapped {count} data keys under {components.keys.active_id}"
        count = await rescan_pending(database.sessionmaker, components)
        return f"{count} pending documents got a verdict"
    finally:
        await components.booking.aclose()
        await components.blobs.close()
        await database.dispose()


def main(argv: Sequence[str] | None = None) -> None:
    run_cli(
        settings=DocumentsSettings(),
        create_app=_create_app,
        service_dir=SERVICE_DIR,
        maintenance=MAINTENANCE,
        maintain=_maintain,
        argv=argv,
    )
