from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String
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
