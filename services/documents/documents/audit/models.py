from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from documents.db import Base
from servicekit.db import UTCDateTime, utcnow


class AccessRecord(Base):
    """One clerk access to a document: who, what, when and why. Append-only.

    The database refuses UPDATE and DELETE on this table (triggers in the migration), so not
    even a bug in this service can rewrite the trail.
    """

    __tablename__ = "document_access_log"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    tenant: Mapped[str] = mapped_column(String(8), index=True)
    booking_id: Mapped[str] = mapped_column(String(64), index=True)
    document_id: Mapped[str | None] = mapped_column(String(64), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    actor_roles: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(32))
    purpose: Mapped[str] = mapped_column(Text)
