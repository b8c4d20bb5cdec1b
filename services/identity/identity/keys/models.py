from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from identity.db import Base
from servicekit.db import UTCDateTime, utcnow


class KeyState(StrEnum):
    ACTIVE = "active"
    """Signs new tokens; exactly one."""
    PASSIVE = "passive"
    """Published so its tokens still verify; signs nothing."""
    RETIRED = "retired"
    """No longer published: its tokens are rejected."""


class SigningKey(Base):
    """A token signing key; the private half is stored encrypted (AES-256-GCM)."""

    __tablename__ = "signing_keys"
    __table_args__ = (
        # At most one active key, even when two replicas create one at the same moment.
        Index(
            "uq_signing_keys_one_active",
            "state",
            unique=True,
            sqlite_where=text("state = 'active'"),
            postgresql_where=text("state = 'active'"),
        ),
    )

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(10))
    public_jwk: Mapped[str] = mapped_column(Text)
    private_jwk_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
