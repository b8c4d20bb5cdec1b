"""The events booking publishes and receives (see servicekit.events).

Publishes ``de.rathaus.booking.citizen.erased`` (``tenant``: the AGS), data
``{"booking_ids": [...]}``: booking erased a citizen on their request; those bookings'
documents go too (documents subscribes).

Receives identity's ``de.rathaus.identity.account.erased`` (data ``{"account_id", "email"}``)
and erases that person's bookings as an administrator's erasure would.
"""

from __future__ import annotations

from booking.db import Base
from booking.settings import BookingSettings
from servicekit.events import InboxColumns, Outbox, OutboxDeliveryColumns, OutboxEventColumns

CITIZEN_ERASED = "de.rathaus.booking.citizen.erased"
ACCOUNT_ERASED = "de.rathaus.identity.account.erased"


class OutboxEvent(OutboxEventColumns, Base):
    pass


class OutboxDelivery(OutboxDeliveryColumns, Base):
    pass


class InboxEvent(InboxColumns, Base):
    pass


def outbox_of(settings: BookingSettings) -> Outbox:
    return Outbox.of_service(settings, OutboxEvent, OutboxDelivery)
