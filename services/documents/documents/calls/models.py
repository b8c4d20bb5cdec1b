from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from documents.db import Base
from servicekit.db import UTCDateTime


class LiveKitRoom(Base):
    """A municipality's LiveKit room documents gave a token for: it is closed (LiveKit's
    DeleteRoom) once its call's window is over, see :mod:`documents.calls.closing`."""

    __tablename__ = "livekit_rooms"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(8))
    booking_id: Mapped[str] = mapped_column(String(64))
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    """The call's window ends: the newest of the tokens documents gave for it says when."""
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
