"""Imports every feature's models so that alembic and the app see all tables."""

from documents.audit.models import AccessRecord
from documents.events.models import InboxEvent, OutboxDelivery, OutboxEvent
from documents.rooms.models import RoomEvent
from documents.uploads.models import Document, UploadIdempotency

__all__ = [
    "AccessRecord",
    "Document",
    "InboxEvent",
    "OutboxDelivery",
    "OutboxEvent",
    "RoomEvent",
    "UploadIdempotency",
]
