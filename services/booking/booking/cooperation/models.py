from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
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
    last_asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_outcome: Mapped[str | None] = mapped_column(String(200), default=None)
    """How the partner's last answer went, for the administrator (a citizen sees only
    "unavailable")."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
