from __future__ import annotations

import uuid
from datetime import date, datetime, time

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from booking.db import Base
from servicekit.db import UTCDateTime


class OpeningRule(Base):
    """Weekly opening hours of an office in its local time, valid for ``[valid_from, valid_until)``.

    ``breaks`` is a list of ``{"start": "HH:MM", "end": "HH:MM"}`` inside ``[opens, closes)``.
    """

    __tablename__ = "opening_rules"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    office_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("offices.id", ondelete="CASCADE"), index=True
    )
    weekday: Mapped[int] = mapped_column(Integer)
    opens: Mapped[time] = mapped_column(Time)
    closes: Mapped[time] = mapped_column(Time)
    breaks: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)


class Closure(Base):
    """An office closed for ``[starts_at, ends_at)`` (staff meeting, renovation, ...)."""

    __tablename__ = "closures"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    office_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("offices.id", ondelete="CASCADE"), index=True
    )
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(String(200), default="")


class Holiday(Base):
    """A public holiday of a municipality: every office of the tenant is closed that local day."""

    __tablename__ = "holidays"
    __table_args__ = (UniqueConstraint("tenant", "day"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant: Mapped[str] = mapped_column(String(8))
    day: Mapped[date] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(200))
