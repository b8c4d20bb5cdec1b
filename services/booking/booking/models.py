"""Imports every feature's models so that alembic and the app see all tables."""

from booking.bookings.models import Booking, BookingItem, SlotClaim
from booking.botcheck.models import UsedChallenge
from booking.catalogue.models import RequiredDocument, Service
from booking.cooperation.models import Partner
from booking.events.models import InboxEvent, OutboxDelivery, OutboxEvent
from booking.hours.models import Closure, Holiday, OpeningRule
from booking.idempotency.models import IdempotencyRecord
from booking.mail.models import OutboxMail
from booking.offices.models import Office, OfficeService, OfficeStaff
from booking.visits.models import KpiDay, KpiWatermark, Visit
from booking.waitlist.models import Subscription

__all__ = [
    "Booking",
    "BookingItem",
    "Closure",
    "Holiday",
    "IdempotencyRecord",
    "InboxEvent",
    "KpiDay",
    "KpiWatermark",
    "Office",
    "OfficeService",
    "OfficeStaff",
    "OpeningRule",
    "OutboxDelivery",
    "OutboxEvent",
    "OutboxMail",
    "Partner",
    "RequiredDocument",
    "Service",
    "SlotClaim",
    "Subscription",
    "UsedChallenge",
    "Visit",
]
