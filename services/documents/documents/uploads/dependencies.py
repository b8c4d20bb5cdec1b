from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from documents.audit.repository import AccessLogRepository
from documents.clients.dependencies import BookingClientDep
from documents.crypto.dependencies import KeyRingDep
from documents.rooms.repository import RoomRepository
from documents.scanning.dependencies import ScannerDep
from documents.settings import SettingsDep
from documents.storage.dependencies import BlobStoreDep
from documents.uploads.repository import DocumentRepository
from documents.uploads.service import DocumentService
from servicekit.dependencies import OutboxDep, SessionDep, app_state
from servicekit.idempotency import IdempotencyStore


async def _documents(
    session: SessionDep,
    booking: BookingClientDep,
    blobs: BlobStoreDep,
    keys: KeyRingDep,
    scanner: ScannerDep,
    outbox: OutboxDep,
    settings: SettingsDep,
) -> DocumentService:
    return DocumentService(
        DocumentRepository(session),
        AccessLogRepository(session),
        RoomRepository(session),
        booking=booking,
        blobs=blobs,
        keys=keys,
        scanner=scanner,
        outbox=outbox,
        settings=settings,
    )


DocumentsDep = Annotated[DocumentService, Depends(_documents)]

IdempotencyDep = Annotated[IdempotencyStore, Depends(app_state("idempotency", IdempotencyStore))]
"""The uploads' Idempotency-Keys (built once at startup on the database)."""
