from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from booking.db import Base
from servicekit.db import UTCDateTime, utcnow


class Office(Base):
    """A Standort where citizens are served; ``counters`` serve appointments in parallel."""

    __tablename__ = "offices"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant: Mapped[str] = mapped_column(String(8), index=True)
    name: Mapped[str] = mapped_column(String(200))
    street: Mapped[str] = mapped_column(String(200))
    postal_code: Mapped[str] = mapped_column(String(5))
    city: Mapped[str] = mapped_column(String(100))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    time_zone: Mapped[str] = mapped_column(String(64), default="Europe/Berlin")
    counters: Mapped[int] = mapped_column(Integer, default=1)
    slot_minutes: Mapped[int] = mapped_column(Integer, default=10)
    bookable_from_days: Mapped[int] = mapped_column(Integer, default=0)
    bookable_until_days: Mapped[int] = mapped_column(Integer, default=60)
    opens_on_public_holidays: Mapped[bool] = mapped_column(
        Boolean,
        default=False,
        server_default=false(),
        doc="Offers slots on the Land's public holidays (those the municipality declares close it)",
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    # In a stable order: PostgreSQL returns the rows of a join in any order it likes.
    services: Mapped[list[OfficeService]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="OfficeService.service_id"
    )


class OfficeService(Base):
    """A catalogue service offered at an office, with the office's own duration if it differs."""

    __tablename__ = "office_services"

    office_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("offices.id", ondelete="CASCADE"), primary_key=True
    )
    service_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    duration_minutes: Mapped[int | None] = mapped_column(Integer)


class OfficeStaff(Base):
    """A clerk (token subject) who works at an office and may see its appointments."""

    __tablename__ = "office_staff"

    office_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("offices.id", ondelete="CASCADE"), primary_key=True
    )
    subject: Mapped[str] = mapped_column(String(200), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
