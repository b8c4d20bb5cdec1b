from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from documents.db import Base
from servicekit.db import UTCDateTime, utcnow
from servicekit.idempotency import IdempotencyColumns


class ScanStatus(StrEnum):
    PENDING = "pending"
    CLEAN = "clean"
    INFECTED = "infected"


class ReviewStatus(StrEnum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    NEEDS_REPLACEMENT = "needs_replacement"


class Document(Base):
    """One uploaded file: metadata, and the wrapped data key that alone can read its blob.

    Deleting the row destroys the key, so the blob is unreadable even where a copy survives.
    """

    __tablename__ = "documents"
    __table_args__ = (Index("ix_documents_tenant_appointment_at", "tenant", "appointment_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(8))
    booking_id: Mapped[str] = mapped_column(String(64), index=True)
    checklist_item_id: Mapped[str] = mapped_column(String(64))
    office_id: Mapped[str] = mapped_column(String(64))
    appointment_at: Mapped[datetime] = mapped_column(UTCDateTime())
    blob_id: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    kek_id: Mapped[str] = mapped_column(String(64))
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    scan_status: Mapped[str] = mapped_column(String(16), default=ScanStatus.PENDING)
    scan_signature: Mapped[str | None] = mapped_column(String(200), default=None)
    # When the scanner last read it: with its verdict, or (still pending) without one.
    scanned_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    review_status: Mapped[str] = mapped_column(String(24), default=ReviewStatus.SUBMITTED)
    review_reason: Mapped[str | None] = mapped_column(Text, default=None)
    reviewed_by: Mapped[str | None] = mapped_column(String(200), default=None)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    uploaded_by: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class UploadIdempotency(IdempotencyColumns, Base):
    """The first answer to an upload made with an ``Idempotency-Key``, per caller and key
    (``servicekit.idempotency``); forgotten after ``IDEMPOTENCY_TTL_HOURS``."""
