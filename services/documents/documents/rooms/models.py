from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from documents.db import Base
from servicekit.db import UTCDateTime, utcnow


class RoomEventKind(StrEnum):
    MESSAGE = "message"
    DOCUMENT_UPLOADED = "document_uploaded"
    DOCUMENT_ACCEPTED = "document_accepted"
    DOCUMENT_NEEDS_REPLACEMENT = "document_needs_replacement"
    DOCUMENT_WITHDRAWN = "document_withdrawn"
    DOCUMENT_SENT = "document_sent"
    DOCUMENT_ACKNOWLEDGED = "document_acknowledged"
    CALL_WAITING = "call_waiting"
    CALL_JOINED = "call_joined"
    CALL_ADMITTED = "call_admitted"
    CALL_LEFT = "call_left"
    CALL_ENDED = "call_ended"


class RoomEvent(Base):
    """One thing that happened in a booking's consultation room, in the order it happened.

    The id orders a room's events and is the cursor a client resumes from (``after``, or the
    ``Last-Event-ID`` of an event stream). Messages are personal data: events go with their
    booking's documents, by the same retention and on erasure.
    """

    __tablename__ = "room_events"
    __table_args__ = (
        Index("ix_room_events_booking_id_id", "booking_id", "id"),
        Index("ix_room_events_tenant_appointment_at", "tenant", "appointment_at"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    tenant: Mapped[str] = mapped_column(String(8))
    booking_id: Mapped[str] = mapped_column(String(64))
    appointment_at: Mapped[datetime] = mapped_column(UTCDateTime())
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    actor_role: Mapped[str] = mapped_column(String(16))
    document_id: Mapped[str | None] = mapped_column(String(32), default=None)
    text: Mapped[str | None] = mapped_column(Text, default=None)


TIMELINE_ONLY_KINDS = frozenset(
    {
        RoomEventKind.DOCUMENT_SENT,
        RoomEventKind.DOCUMENT_ACKNOWLEDGED,
        RoomEventKind.CALL_WAITING,
        RoomEventKind.CALL_JOINED,
        RoomEventKind.CALL_ADMITTED,
        RoomEventKind.CALL_LEFT,
        RoomEventKind.CALL_ENDED,
    }
)
"""Kinds added after v1's ``/room/events`` (whose ``kind`` is a closed list): the documents
the office sends the citizen and the video call's happenings. They are in the timeline and the
stream."""
