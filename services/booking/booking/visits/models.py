from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, Date, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from booking.db import Base
from servicekit.db import UTCDateTime


class Visit(Base):
    """A confirmed booking's day at the office: check-in, call to a counter, the outcome.

    One row per booking (its primary key), written when the citizen checks in; a booking whose
    appointment has ended without a visit is a no-show. The timestamps are what the office's
    KPIs are computed from: waiting (checked in, or the appointment's start if later, until
    called) and processing time (called until completed).
    """

    __tablename__ = "visits"
    __table_args__ = (CheckConstraint("rating BETWEEN 1 AND 5", name="rating_from_1_to_5"),)

    booking_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("bookings.id", ondelete="CASCADE"), primary_key=True
    )
    office_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("offices.id"), index=True)
    checked_in_at: Mapped[datetime] = mapped_column(UTCDateTime())
    called_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    counter: Mapped[str | None] = mapped_column(String(40))
    called_by: Mapped[str | None] = mapped_column(String(200))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved: Mapped[bool | None] = mapped_column(
        Boolean, doc="The concern was settled at this visit (first-contact resolution)"
    )
    rating: Mapped[int | None] = mapped_column(Integer, doc="The citizen's satisfaction, 1-5")
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


EVERY = uuid.UUID(int=0)
"""The office_id of a rollup row summing every office of its time zone, and the service_id of
one counting every appointment whatever its services."""


class KpiDay(Base):
    """The KPI figures of one closed local day: of an office (or of every office of a time
    zone, ``office_id`` = :data:`EVERY`), over every appointment (``service_id`` =
    :data:`EVERY`) or over those including one service.

    Written by :mod:`booking.visits.rollup` once the day is over, and rewritten when one of
    its visits changes later (a completion after midnight, a rating). The histograms map a
    duration in tenths of a minute (a rating times ten) to how many visits had it, so that a
    period's median and 90th percentile come from summed histograms exactly as from the
    visits themselves (the KPIs round them to a tenth).
    """

    __tablename__ = "kpi_days"

    tenant: Mapped[str] = mapped_column(String(8), primary_key=True)
    time_zone: Mapped[str] = mapped_column(String(64), primary_key=True)
    office_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    service_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    appointments: Mapped[int] = mapped_column(Integer)
    ended: Mapped[int] = mapped_column(Integer)
    checked_in: Mapped[int] = mapped_column(Integer)
    walk_ins: Mapped[int] = mapped_column(Integer)
    no_shows: Mapped[int] = mapped_column(Integer)
    completed: Mapped[int] = mapped_column(Integer)
    resolved: Mapped[int] = mapped_column(Integer)
    waiting_minutes: Mapped[float] = mapped_column(Float)
    processing_minutes: Mapped[float] = mapped_column(Float)
    rating_total: Mapped[float] = mapped_column(Float)
    saved_minutes: Mapped[float] = mapped_column(Float)
    video_appointments: Mapped[int] = mapped_column(Integer)
    video_completed: Mapped[int] = mapped_column(Integer)
    video_minutes: Mapped[float] = mapped_column(Float)
    waiting: Mapped[dict[str, int]] = mapped_column(JSON)
    processing: Mapped[dict[str, int]] = mapped_column(JSON)
    ratings: Mapped[dict[str, int]] = mapped_column(JSON)


class KpiWatermark(Base):
    """The last local day whose KPI figures of a tenant's offices in a time zone are in
    :class:`KpiDay`; later days are computed from the visits. Its row is locked by whoever
    writes the rollup of that tenant and zone, which serialises the writers."""

    __tablename__ = "kpi_watermarks"

    tenant: Mapped[str] = mapped_column(String(8), primary_key=True)
    time_zone: Mapped[str] = mapped_column(String(64), primary_key=True)
    closed_through: Mapped[date | None] = mapped_column(Date)
