"""The events documents receives (see servicekit.events).

Booking's ``de.rathaus.booking.citizen.erased`` (``tenant``: the AGS), data
``{"booking_ids": [...]}``: a citizen was erased on their request; the documents and
consultation rooms of those bookings are deleted.
"""

from __future__ import annotations

from documents.db import Base
from servicekit.events import InboxColumns

CITIZEN_ERASED = "de.rathaus.booking.citizen.erased"


class InboxEvent(InboxColumns, Base):
    pass
