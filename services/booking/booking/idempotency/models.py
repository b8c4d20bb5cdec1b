from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from booking.db import Base
from servicekit.db import UTCDateTime, utcnow


class IdempotencyRecord(Base):
    """The first response to a request made with an ``Idempotency-Key``, per caller and key.

    ``key`` is the SHA-256 of the client's key; secrets in ``response`` are sealed with it.
    """

    __tablename__ = "idempotency_records"

    caller: Mapped[str] = mapped_column(String(250), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[dict[str, object] | None] = mapped_column(JSON)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
