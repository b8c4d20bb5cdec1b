from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from identity.db import Base
from servicekit.db import UTCDateTime, utcnow


class RefreshToken(Base):
    """An opaque refresh token, stored as its SHA-256; one use, then replaced in its family."""

    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    family_id: Mapped[str] = mapped_column(String(36), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The level of an external sign-in, carried into every token of the family.
    acr: Mapped[str | None] = mapped_column(String(16), nullable=True, default=None)
    # How the login of the family was made (RFC 8176 names, space-separated), carried likewise.
    amr: Mapped[str | None] = mapped_column(String(50), nullable=True, default=None)
    # A family begun by an OAuth2 client's authorization code: its client and scopes.
    client_id: Mapped[str | None] = mapped_column(String(64), nullable=True, default=None)
    scope: Mapped[str | None] = mapped_column(String(500), nullable=True, default=None)
