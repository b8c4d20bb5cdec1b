from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from booking.db import Base
from servicekit.db import UTCDateTime, utcnow


class Partner(Base):
    """A neighbouring municipality running its own Rathaus, which a tenant searches along."""

    __tablename__ = "partners"

    tenant: Mapped[str] = mapped_column(String(8), primary_key=True)
    ags: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    base_url: Mapped[str] = mapped_column(String(500))
    issuer: Mapped[str | None] = mapped_column(String(500), default=None)
    """The partner's identity (OIDC issuer), which gives us client-credentials tokens."""
    client_id: Mapped[str | None] = mapped_column(String(200), default=None)
    client_secret_sealed: Mapped[str | None] = mapped_column(Text(), default=None)
    """Our client secret there, sealed (``servicekit.sealing``) under the partner's key."""
    scopes: Mapped[str | None] = mapped_column(String(500), default=None)
    last_asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_outcome: Mapped[str | None] = mapped_column(String(200), default=None)
    """How the partner's last answer went, for the administrator (a citizen sees only
    "unavailable")."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    @property
    def seal_binding(self) -> str:
        """What the sealed client secret is bound to: this partner of this tenant."""
        return f"partner:{self.tenant}:{self.ags}"
