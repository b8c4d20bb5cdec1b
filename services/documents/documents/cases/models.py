"""What a case hand-over keeps, on each side (see docs/architecture.md, "Handing a case over").

Sender: :class:`SentCase`, one per hand-over of a booking to a partner (its attachments are the
booking's documents, which stay where they are). Receiver: :class:`ReceivedCase` with its
manifest sealed under a data key of its own, and :class:`ReceivedAttachment`, each a blob
encrypted at rest exactly as an uploaded document is. :class:`CaseKey` holds our hand-over
keys: the RSA key partners encrypt to, and the key that signs our receipts.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKeyConstraint, Index, Integer, LargeBinary, String, Text
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column

from documents.db import Base
from servicekit.db import UTCDateTime, utcnow


class KeyUse(StrEnum):
    ENCRYPTION = "enc"
    SIGNATURE = "sig"


class KeyState(StrEnum):
    ACTIVE = "active"
    """Partners encrypt to it (``enc``) / it signs receipts (``sig``); one of each."""
    PASSIVE = "passive"
    """Still published and used to decrypt or verify; no longer chosen."""
    RETIRED = "retired"
    """Gone from the JWKS; decrypts nothing."""


class CaseKey(Base):
    """A hand-over key; the private half sealed under the key-encryption key (AES-256-GCM)."""

    __tablename__ = "case_keys"
    __table_args__ = (
        Index(
            "uq_case_keys_one_active_per_use",
            "use",
            unique=True,
            sqlite_where=sql_text("state = 'active'"),
            postgresql_where=sql_text("state = 'active'"),
        ),
    )

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    use: Mapped[str] = mapped_column(String(3))
    state: Mapped[str] = mapped_column(String(10))
    public_jwk: Mapped[str] = mapped_column(Text)
    kek_id: Mapped[str] = mapped_column(String(64))
    private_jwk_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class CaseStatus(StrEnum):
    SENDING = "sending"
    """Sender: under way (or broken off; handing over again resumes it)."""
    RECEIVING = "receiving"
    """Receiver: the manifest is in, attachments are arriving."""
    RECEIVED = "received"
    """Both: the receiver checked every hash and signed a receipt."""
    REJECTED = "rejected"
    """Both: the receiver refused the case, with a reason; it stored nothing of it."""


class SentCase(Base):
    """A booking's case handed (or being handed) to a partner municipality."""

    __tablename__ = "sent_cases"
    __table_args__ = (
        # One open hand-over per booking and partner: a repeat is the same case, resumed.
        Index(
            "uq_sent_cases_one_open",
            "tenant",
            "booking_id",
            "to_ags",
            unique=True,
            sqlite_where=sql_text("status != 'rejected'"),
            postgresql_where=sql_text("status != 'rejected'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(8), index=True)
    booking_id: Mapped[str] = mapped_column(String(64))
    to_ags: Mapped[str] = mapped_column(String(8))
    to_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=CaseStatus.SENDING)
    reason: Mapped[str | None] = mapped_column(String(500), default=None)
    attachments: Mapped[int] = mapped_column(Integer, default=0)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    receipt: Mapped[str | None] = mapped_column(Text, default=None)
    """The receiver's signed receipt or rejection (a JWS), verified against its JWKS."""
    sent_by: Mapped[str] = mapped_column(String(200))
    kek_id: Mapped[str | None] = mapped_column(String(64), default=None)
    manifest_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    """The manifest as first sent (sealed under the KEK): a resumed hand-over sends these
    very bytes again, so the receiver recognises the case."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class ReceivedCase(Base):
    """A case a partner municipality handed to us."""

    __tablename__ = "received_cases"

    tenant: Mapped[str] = mapped_column(String(8), primary_key=True)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    from_ags: Mapped[str] = mapped_column(String(8))
    client_id: Mapped[str] = mapped_column(String(200))
    """The partner's OAuth2 client at our identity that delivered it (the token's ``sub``)."""
    status: Mapped[str] = mapped_column(String(16), default=CaseStatus.RECEIVING)
    reason: Mapped[str | None] = mapped_column(String(500), default=None)
    leika: Mapped[str | None] = mapped_column(String(14), default=None)
    manifest_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    kek_id: Mapped[str | None] = mapped_column(String(64), default=None)
    manifest_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    """The manifest (booking data, checklist, attachments), AES-256-GCM under a wrapped key."""
    receipt: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    delete_after: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None, index=True)


class ReceivedAttachment(Base):
    """One document of a received case, encrypted at rest like an upload."""

    __tablename__ = "received_attachments"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant", "case_id"],
            ["received_cases.tenant", "received_cases.id"],
            ondelete="CASCADE",
        ),
    )

    tenant: Mapped[str] = mapped_column(String(8), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    blob_id: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    kek_id: Mapped[str] = mapped_column(String(64))
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
