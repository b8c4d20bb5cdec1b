"""The events documents publishes and receives (see servicekit.events).

Publishes (``tenant``: the AGS; no file names, no content) what happens to a booking's
documents, for a municipality's case management (Fachverfahren):
``de.rathaus.documents.document.uploaded``, ``...document.accepted``,
``...document.needs_replacement`` (with the reason the citizen sees),
``...document.withdrawn``, ``...document.sent`` (a clerk put a document into the room for the
citizen) and ``...document.acknowledged`` (the citizen confirmed receiving it); subject the
document's id. And what happens to a case handed between municipalities (``...case.sent``,
``...case.received``, ``...case.rejected``, on the sending and on the receiving side; subject
the case's id).

Receives booking's ``de.rathaus.booking.citizen.erased`` (data ``{"booking_ids": [...]}``):
a citizen was erased on their request; the documents and consultation rooms of those bookings
are deleted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel

from documents.db import Base
from servicekit.events import (
    EventTables,
    InboxColumns,
    OutboxDeliveryColumns,
    OutboxEventColumns,
    published_events,
)

CITIZEN_ERASED = "de.rathaus.booking.citizen.erased"
DOCUMENT_UPLOADED = "de.rathaus.documents.document.uploaded"
DOCUMENT_ACCEPTED = "de.rathaus.documents.document.accepted"
DOCUMENT_NEEDS_REPLACEMENT = "de.rathaus.documents.document.needs_replacement"
DOCUMENT_WITHDRAWN = "de.rathaus.documents.document.withdrawn"
DOCUMENT_SENT = "de.rathaus.documents.document.sent"
DOCUMENT_ACKNOWLEDGED = "de.rathaus.documents.document.acknowledged"
CASE_SENT = "de.rathaus.documents.case.sent"
CASE_RECEIVED = "de.rathaus.documents.case.received"
CASE_REJECTED = "de.rathaus.documents.case.rejected"


class DocumentChanged(BaseModel):
    """A document of a booking as a case management system follows it (no name, no bytes)."""

    document_id: str
    booking_id: str
    checklist_item_id: str
    media_type: str
    size_bytes: int
    sha256: str
    scan_status: Literal["pending", "clean", "infected"]
    review_status: Literal["submitted", "accepted", "needs_replacement"]
    review_reason: str | None = None
    direction: Literal["to_office", "to_citizen"] = "to_office"
    """to_citizen: a clerk put it into the consultation room for the citizen."""


class CaseChanged(BaseModel):
    """A case handed between municipalities, as either side follows it (no personal data)."""

    case_id: str
    direction: Literal["outgoing", "incoming"]
    partner_ags: str
    booking_id: str | None = None
    status: Literal["sending", "receiving", "received", "rejected"]
    reason: str | None = None
    attachments: int
    receipt: str | None = None
    """The receiver's signed receipt or rejection (a JWS)."""


webhooks = published_events(
    {
        DOCUMENT_UPLOADED: (
            DocumentChanged,
            "A citizen handed in a document for an item of the booking's checklist.",
        ),
        DOCUMENT_ACCEPTED: (DocumentChanged, "A clerk accepted a document."),
        DOCUMENT_NEEDS_REPLACEMENT: (
            DocumentChanged,
            "A clerk asked for a replacement, with the reason the citizen sees.",
        ),
        DOCUMENT_WITHDRAWN: (
            DocumentChanged,
            "The citizen withdrew a document (its key is destroyed, its blob removed).",
        ),
        DOCUMENT_SENT: (
            DocumentChanged,
            "A clerk put a document into the consultation room for the citizen (booking mails "
            "the citizen that it arrived).",
        ),
        DOCUMENT_ACKNOWLEDGED: (
            DocumentChanged,
            "The citizen confirmed receiving a document the office sent.",
        ),
        CASE_SENT: (CaseChanged, "A clerk handed a booking's case to a partner municipality."),
        CASE_RECEIVED: (
            CaseChanged,
            "A handed-over case arrived whole: stored by the receiver, which signed a receipt "
            "(outgoing: the receipt verified; incoming: stored).",
        ),
        CASE_REJECTED: (
            CaseChanged,
            "The receiver refused a handed-over case, with the reason; it kept nothing of it.",
        ),
    }
)


event_tables = EventTables.declare(Base, module=__name__)
outbox_of = event_tables.outbox

if TYPE_CHECKING:  # a class made by a call is no type to mypy: it sees the columns they map
    InboxEvent = InboxColumns
    OutboxDelivery = OutboxDeliveryColumns
    OutboxEvent = OutboxEventColumns
else:
    OutboxEvent = event_tables.outbox_event
    OutboxDelivery = event_tables.outbox_delivery
    InboxEvent = event_tables.inbox_event
