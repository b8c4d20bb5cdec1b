from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from identity.db import Base
from servicekit.db import UTCDateTime, utcnow


class Tenant(Base):
    """A municipality, keyed by its Amtlicher Gemeindeschlüssel."""

    __tablename__ = "tenants"

    ags: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    settings: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")
    """JSON of :class:`identity.tenants.schemas.TenantSettings`."""
