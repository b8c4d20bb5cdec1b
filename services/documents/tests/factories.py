"""Builders of documents' test data, as plain functions a test calls where it needs them.

Callers' headers (signed by the run's token keys), PDF-looking files, settings, documents as an
upload stores them, and an upload through the API. Bookings themselves are booking's: made
through its API by ``tests.documents_booking.live_booking``.
"""

from __future__ import annotations

import base64
import io
import os
import secrets
import struct
import uuid
import zlib
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from documents.crypto.keys import KeyRing, new_data_key
from documents.crypto.stream import ChunkEncryptor
from documents.db import Base
from documents.settings import DocumentsSettings
from documents.storage.base import BlobStore
from documents.uploads.models import Document, ReviewStatus, ScanStatus
from servicekit.db import Database
from servicekit.settings import Environment
from servicekit.testing.tokens import TokenFactory
from tests.documents_booking import files
from tests.documents_booking.live_booking import TENANT, Appointment

PASSPORT, PHOTO = 0, 1  # the appointment's checklist: passport, photo, then an optional item
UPLOAD_LIMIT = 256 * 1024
"""The largest upload the tests' settings take (``max_upload_bytes``)."""
CANARY = b"CANARY-Erika-Mustermann-1964-08-12"
"""Stands for the personal data in a file: no blob may show it."""
BOOKING_EVENT_SECRET = "booking-events-secret-for-documents-tests"
"""What booking signs the events it sends documents with (in these tests)."""


def new_kek() -> str:
    """A fresh key-encryption key as the settings take it (base64 of 32 random bytes)."""
    return base64.b64encode(os.urandom(32)).decode()


TEST_KEK = new_kek()


def settings_for_tests(database_url: str, **overrides: object) -> DocumentsSettings:
    values: dict[str, object] = {
        "environment": Environment.TEST,
        "database_url": database_url,
        "keks": {"test-1": TEST_KEK},
        "active_kek_id": "test-1",
        "encryption_chunk_size": 4096,
        "max_upload_bytes": UPLOAD_LIMIT,
        "events_secrets": {"booking": BOOKING_EVENT_SECRET},
        # A case management system follows the documents (nothing listens there in these
        # tests: the outbox keeps what it would send).
        "events_subscribers": [
            {
                "name": "fachverfahren",
                "url": "http://127.0.0.1:9/fachverfahren/events",
                "secret": "a-secret-shared-with-the-case-management",
                "types": [
                    "de.rathaus.documents.document.uploaded",
                    "de.rathaus.documents.document.accepted",
                    "de.rathaus.documents.document.needs_replacement",
                    "de.rathaus.documents.document.withdrawn",
                ],
            }
        ],
    }
    values.update(overrides)
    return DocumentsSettings.model_validate(values)


def pdf(size: int = 20_000, marker: bytes = CANARY) -> bytes:
    """A PDF of exactly ``size`` bytes that opens in a viewer, with ``marker`` in its head."""
    return files.pdf(size, marker)


def _image(kind: str, size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, kind)
    return out.getvalue()


def jpeg(size: tuple[int, int] = (64, 48)) -> bytes:
    """A real JPEG image (what a viewer would load)."""
    return _image("JPEG", size)


def png(size: tuple[int, int] = (64, 48)) -> bytes:
    """A real PNG image."""
    return _image("PNG", size)


def png_claiming(width: int, height: int) -> bytes:
    """A well-formed PNG whose header claims ``width`` x ``height`` pixels, carrying one tiny
    compressed row: a decompression bomb for whoever renders it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + chunk(b"IEND", b"")
    )


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real JPEG with the dimensions in its frame header (SOF0) replaced."""
    data = bytearray(jpeg())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def pdf_then_executable() -> bytes:
    """``%PDF-`` in front of an ELF executable: sniffs as a PDF, opens as none."""
    elf = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + os.urandom(4000)
    return b"%PDF-1.7\n" + elf


def citizen(tokens: TokenFactory, sub: str = "citizen-1", tenant: str = TENANT) -> dict[str, str]:
    return tokens.headers(sub=sub, tenant=tenant, roles=["citizen"])


def clerk(tokens: TokenFactory, sub: str = "clerk-1", tenant: str = TENANT) -> dict[str, str]:
    """clerk-1 works at the live booking's office, clerk-2 at its other office."""
    return tokens.headers(sub=sub, tenant=tenant, roles=["clerk"])


def admin(tokens: TokenFactory, sub: str = "admin-1", tenant: str = TENANT) -> dict[str, str]:
    return tokens.headers(sub=sub, tenant=tenant, roles=["admin"])


async def upload(
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    appointment: Appointment,
    item: int,
    data: bytes | None = None,
) -> dict[str, Any]:
    """citizen-1 uploads ``data`` (a small PDF) for the ``item``-th checklist item."""
    response = await client.post(
        appointment.upload_path(item),
        content=data or pdf(),
        headers=citizen(tokens),
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    """``parts`` as a stream, one chunk each."""
    for part in parts:
        yield part


async def create_document(
    database: Database,
    blobs: BlobStore,
    keys: KeyRing,
    *,
    appointment_at: datetime,
    tenant: str = TENANT,
    plaintext: bytes = b"%PDF-1.7 test",
) -> Document:
    """A stored, encrypted document written the way an upload writes it, committed; its
    booking is made up (no booking is asked: purge and rewrap run on rows)."""
    document_id = uuid.uuid4().hex
    blob_id = secrets.token_urlsafe(24)
    data_key = new_data_key()
    encryptor = ChunkEncryptor(data_key, chunk_size=4096)
    await blobs.write(blob_id, chunks(encryptor.update(plaintext) + encryptor.finish()))
    wrapped = keys.wrap(data_key, document_id)
    document = Document(
        id=document_id,
        tenant=tenant,
        booking_id=str(uuid.uuid4()),
        checklist_item_id="passport",
        office_id="office-1",
        appointment_at=appointment_at,
        blob_id=blob_id,
        display_name="a.pdf",
        media_type="application/pdf",
        size_bytes=len(plaintext),
        sha256="0" * 64,
        kek_id=wrapped.kek_id,
        wrapped_key=wrapped.wrapped,
        scan_status=ScanStatus.CLEAN,
        review_status=ReviewStatus.SUBMITTED,
    )
    async with database.sessionmaker() as session:
        session.add(document)
        await session.commit()
    return document


async def rows(session: AsyncSession, model: type[Base]) -> int:
    """How many rows of ``model`` the session sees."""
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)
