from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from booking.db import Base
from servicekit.db import UTCDateTime, utcnow


class WaitlistStatus(StrEnum):
    PENDING = "pending"
    """The address is not confirmed yet (the mailed link's POST does it)."""
    WAITING = "waiting"
    OFFERED = "offered"
    """A seat is held for the subscriber until ``offer_expires_at``."""
    BOOKED = "booked"
    ENDED = "ended"
    """Unsubscribed, or the range has passed."""


class Subscription(Base):
    """A citizen waiting for a seat of one service, at one office or any of the municipality,
    on a local day in ``[first_day, last_day]``; first come (``queued_at``), first offered."""

    __tablename__ = "waitlist_subscriptions"
    __table_args__ = (
        Index("ix_waitlist_subscriptions_queue", "tenant", "status", "queued_at"),
        Index("ix_waitlist_subscriptions_offer_expires_at", "status", "offer_expires_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant: Mapped[str] = mapped_column(String(8))
    service_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("services.id"), index=True)
    office_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("offices.id"), index=True)
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    language: Mapped[str] = mapped_column(String(2), default="de")
    citizen_subject: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=WaitlistStatus.PENDING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    queued_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), doc="When it joined the queue (again, after an offer ran out)"
    )
    offers: Mapped[int] = mapped_column(
        Integer, default=0, doc="Offers made so far: the offer mail's sequence"
    )
    offer_booking_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("bookings.id", ondelete="SET NULL")
    )
    offer_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
