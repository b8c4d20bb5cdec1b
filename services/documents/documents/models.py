"""Imports every feature's models so that alembic and the app see all tables."""

from documents.audit.models import AccessRecord
from documents.calls.models import LiveKitRoom
from documents.cases.models import CaseKey, ReceivedAttachment, ReceivedCase, SentCase
from documents.events.models import InboxEvent, OutboxDelivery, OutboxEvent
from documents.rooms.models import RoomEvent
from documents.uploads.models import Document, UploadIdempotency

__all__ = [
    "AccessRecord",
    "CaseKey",
    "Document",
    "InboxEvent",
    "LiveKitRoom",
    "OutboxDelivery",
    "OutboxEvent",
    "ReceivedAttachment",
    "ReceivedCase",
    "RoomEvent",
    "SentCase",
    "UploadIdempotency",
]
