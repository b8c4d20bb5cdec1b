"""The events booking publishes and receives (see servicekit.events).

Publishes (``tenant``: the AGS; no personal data):

- ``de.rathaus.booking.booking.confirmed``, ``...booking.rescheduled`` and
  ``...booking.cancelled``, subject the booking's id, data ``{"booking_id", "office_id",
  "service_ids", "starts_at", "ends_at"}`` (a reschedule adds ``previous_starts_at``): for a
  municipality's case management (Fachverfahren) or a partner system that plans with them;
- ``de.rathaus.booking.citizen.erased``, data ``{"booking_ids": [...]}``: booking erased a
  citizen on their request; those bookings' documents go too (documents subscribes).

Receives identity's ``de.rathaus.identity.account.erased`` (data ``{"account_id", "email"}``)
and erases that person's bookings as an administrator's erasure would; and documents'
``de.rathaus.documents.document.sent`` (data ``{"document_id", "booking_id", ...}``): a clerk
put a document into the booking's consultation room, and booking mails the citizen.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from pydantic import AwareDatetime, BaseModel

from booking.db import Base
from servicekit.events import (
    EventTables,
    InboxColumns,
    OutboxDeliveryColumns,
    OutboxEventColumns,
    published_events,
)

CITIZEN_ERASED = "de.rathaus.booking.citizen.erased"
BOOKING_CONFIRMED = "de.rathaus.booking.booking.confirmed"
BOOKING_RESCHEDULED = "de.rathaus.booking.booking.rescheduled"
BOOKING_CANCELLED = "de.rathaus.booking.booking.cancelled"
ACCOUNT_ERASED = "de.rathaus.identity.account.erased"
DOCUMENT_SENT = "de.rathaus.documents.document.sent"


class BookingChanged(BaseModel):
    """A booking as a case management system plans with it: no personal data."""

    booking_id: uuid.UUID
    office_id: uuid.UUID
    service_ids: list[uuid.UUID]
    starts_at: AwareDatetime
    ends_at: AwareDatetime


class BookingRescheduled(BookingChanged):
    previous_starts_at: AwareDatetime


class CitizenErased(BaseModel):
    booking_ids: list[uuid.UUID]


webhooks = published_events(
    {
        BOOKING_CONFIRMED: (BookingChanged, "A held appointment was confirmed."),
        BOOKING_RESCHEDULED: (
            BookingRescheduled,
            "A confirmed appointment moved (to another time, perhaps another office).",
        ),
        BOOKING_CANCELLED: (
            BookingChanged,
            "A confirmed appointment was cancelled (by the citizen, staff or an erasure).",
        ),
        CITIZEN_ERASED: (
            CitizenErased,
            "A citizen was erased on their request: these bookings no longer say who booked "
            "them; delete what you keep about them (documents deletes their documents).",
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
