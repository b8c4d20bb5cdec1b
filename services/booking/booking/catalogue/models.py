from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from booking.db import Base
from servicekit.db import UTCDateTime, utcnow


class Service(Base):
    """A citizen service of one municipality, keyed by its LeiKa/FIM Leistungsschlüssel."""

    __tablename__ = "services"
    __table_args__ = (UniqueConstraint("tenant", "leika"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant: Mapped[str] = mapped_column(String(8), index=True)
    leika: Mapped[str] = mapped_column(String(14))
    name_de: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    description_de: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    duration_minutes: Mapped[int] = mapped_column(Integer)
    fee_cents: Mapped[int | None] = mapped_column(Integer)
    online_hint_de: Mapped[str | None] = mapped_column(Text)
    online_hint_en: Mapped[str | None] = mapped_column(Text)
    online_url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    documents: Mapped[list[RequiredDocument]] = relationship(
        back_populates="service",
        lazy="raise",
        cascade="all, delete-orphan",
        order_by="RequiredDocument.position",
    )


class RequiredDocument(Base):
    """One item of a service's pre-information: what the citizen brings along."""

    __tablename__ = "required_documents"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    service_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    name_de: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    description_de: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    mandatory: Mapped[bool] = mapped_column(Boolean, default=True)
    accepted_formats: Mapped[list[str]] = mapped_column(JSON, default=list)

    service: Mapped[Service] = relationship(back_populates="documents", lazy="raise")
