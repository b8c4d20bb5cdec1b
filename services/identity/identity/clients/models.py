from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from identity.db import Base
from servicekit.db import UTCDateTime, utcnow


class OAuthClient(Base):
    """An OAuth2 client of a partner authority, acting in one municipality with its scopes."""

    __tablename__ = "oauth_clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_ags: Mapped[str] = mapped_column(ForeignKey("tenants.ags"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(64))
    """SHA-256 of a 256-bit random secret: no dictionary to attack, so no slow hash needed."""
    scopes: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())
