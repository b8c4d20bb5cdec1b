from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from booking.db import Base
from servicekit.db import UTCDateTime, utcnow


class BookingStatus(StrEnum):
    HELD = "held"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"


class CancelledBy(StrEnum):
    CITIZEN = "citizen"
    STAFF = "staff"
    """A clerk or an administrator (also an erasure on the citizen's request)."""
    MUNICIPALITY = "municipality"
    """A closure, changed opening hours or a holiday of the municipality collided with it."""


class Booking(Base):
    """An appointment from hold to confirmation or cancellation.

    Capacity is not stored here: it is the set of :class:`SlotClaim` rows the booking owns.
    """

    __tablename__ = "bookings"
    __table_args__ = (
        UniqueConstraint("tenant", "code"),
        # Only bookings still to be reminded are in it: the reminders' selection stays small
        # and fast however many bookings the table holds (see bench/mail).
        Index(
            "ix_bookings_remind_at",
            "remind_at",
            postgresql_where=text("remind_at IS NOT NULL"),
            sqlite_where=text("remind_at IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant: Mapped[str] = mapped_column(String(8), index=True)
    office_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("offices.id"), index=True)
    code: Mapped[str] = mapped_column(String(9))
    status: Mapped[str] = mapped_column(String(16), default=BookingStatus.HELD)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    hold_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    citizen_subject: Mapped[str | None] = mapped_column(String(200), index=True)
    client_key: Mapped[str | None] = mapped_column(String(64), index=True)
    """An anonymous hold's client address, keyed-hashed, while it is held (the limit per
    address counts it); cleared when the hold ends."""
    manage_token_hash: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(2), default="de")
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_by: Mapped[str | None] = mapped_column(String(16), default=None)
    cancellation_reason: Mapped[str | None] = mapped_column(String(200), default=None)
    sequence: Mapped[int] = mapped_column(
        Integer,
        default=0,
        server_default="0",
        doc="Raised on every reschedule and the cancellation: the invitation's SEQUENCE",
    )
    remind_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(),
        default=None,
        doc="When the reminder is due; None once queued, or when none is to be sent",
    )
    walk_in: Mapped[bool] = mapped_column(
        Boolean,
        default=False,
        server_default=false(),
        doc="Registered at the desk without an appointment (holds no seat, no manage link)",
    )

    items: Mapped[list[BookingItem]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="BookingItem.position"
    )


class BookingItem(Base):
    """One service of a booking, with the duration it was booked with."""

    __tablename__ = "booking_items"

    booking_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("bookings.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("services.id"), index=True)
    duration_minutes: Mapped[int] = mapped_column(Integer)


class SlotClaim(Base):
    """One seat (counter) of one slot unit of an office, owned by one booking.

    The primary key makes overbooking impossible on any database: a unit of an office with
    ``counters`` seats has at most ``counters`` claims, because seats are numbered
    ``0 .. counters-1`` and a second claim of the same seat violates the key. A hold's claims
    carry its expiry; an expired claim is deleted by whoever needs the seat next, so no
    background job is required for correctness.
    """

    __tablename__ = "slot_claims"

    office_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("offices.id"), primary_key=True)
    unit_start: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    seat: Mapped[int] = mapped_column(Integer, primary_key=True)
    booking_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("bookings.id", ondelete="CASCADE"), index=True
    )
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
