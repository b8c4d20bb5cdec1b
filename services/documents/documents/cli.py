"""``rathaus-documents``: the kit's serve|migrate|openapi, plus the maintenance commands

purge    delete documents past their tenant's retention period
rewrap   move every wrapped data key to the active key-encryption key
rescan   ask the scanner again about documents still pending
rotate-case-keys
         new active hand-over keys (encryption and receipt signing); the previous ones stay
         published as passive until retired
retire-case-keys
         retire the passive hand-over keys (unpublished, no longer decrypting); the active
         keys are never retired
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fastapi import FastAPI

from documents.cases.keys import CaseKeys
from documents.cases.models import KeyUse
from documents.cases.repository import CaseKeyRepository
from documents.clients.booking import BookingClient
from documents.crypto.keys import KeyRing
from documents.main import create_app
from documents.retention.service import Retention
from documents.scanning.scanner import Scanner
from documents.settings import DocumentsSettings
from documents.storage.base import BlobStore
from documents.uploads.backup import BlobBackup
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
    "rotate-case-keys": "new active hand-over keys; the previous ones stay published as passive",
    "retire-case-keys": "retire the passive hand-over keys; the active ones stay",
}


def _create_app(settings: ServiceSettings) -> FastAPI:
    assert isinstance(settings, DocumentsSettings)
    return create_app(settings)


async def _maintain(command: str, settings: ServiceSettings, tenant: str | None) -> str:
    assert isinstance(settings, DocumentsSettings)
    app = create_app(settings)
    database: Database = app.state.database
    blobs: BlobStore = app.state.blob_store
    keys: KeyRing = app.state.key_ring
    scanner: Scanner = app.state.scanner
    booking: BookingClient = app.state.booking_client
    try:
        if command == "purge":
            retention = Retention(database.sessionmaker, blobs, settings)
            count = await retention.purge_expired(now=utcnow(), tenant=tenant)
            return f"purged {count} documents"
        if command == "rotate-case-keys":
            async with database.sessionmaker() as session, session.begin():
                case_keys = CaseKeys(CaseKeyRepository(session), keys)
                made = [await case_keys.rotate(use) for use in KeyUse]
            return "new active hand-over keys: " + ", ".join(f"{k.use} {k.kid}" for k in made)
        if command == "retire-case-keys":
            async with database.sessionmaker() as session, session.begin():
                retired = await CaseKeys(CaseKeyRepository(session), keys).retire_passive()
            if not retired:
                return "no passive hand-over keys to retire"
            return "retired hand-over keys: " + ", ".join(f"{k.use} {k.kid}" for k in retired)
        if command == "rewrap":
            count = await rewrap_all(database.sessionmaker, keys)
            return f"rewrapped {count} data keys under {keys.active_id}"
        count = await rescan_pending(database.sessionmaker, keys=keys, blobs=blobs, scanner=scanner)
        return f"{count} pending documents got a verdict"
    finally:
        await booking.aclose()
        await blobs.close()
        await database.dispose()


def main(argv: Sequence[str] | None = None) -> None:
    run_cli(
        settings=DocumentsSettings(),
        create_app=_create_app,
        service_dir=SERVICE_DIR,
        maintenance=MAINTENANCE,
        maintain=_maintain,
        backup_parts=lambda app: {"blobs": BlobBackup()},
        argv=argv,
    )
