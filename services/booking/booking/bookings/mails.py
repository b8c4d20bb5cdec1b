"""The mails a booking's citizen gets when it is confirmed, moved or cancelled.

Each is queued in the transaction of the change (``servicekit.mail.Mailbox``), keyed by
(``booking:<id>``, template, the booking's sequence): a retried request queues nothing twice,
and an SMTP server that is down only delays the mail, never the booking. Each carries the
iMIP invitation of ``ical.booking_calendar``: REQUEST on confirmation and reschedule (SEQUENCE
raised), CANCEL on cancellation.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession

from booking.bookings.ical import Invitee, booking_calendar
from booking.bookings.models import Booking
from booking.bookings.schemas import BookingOut
from booking.bookings.secrets import manage_token_for, opt_in_token_for
from booking.offices.models import Office
from booking.settings import BookingSettings
from servicekit.mail import Invitation, Mailbox
from servicekit.mail.message import CalendarMethod

CONFIRMATION = "confirmation"
RESCHEDULED = "rescheduled"
CANCELLED = "cancelled"
CANCELLED_BY_MUNICIPALITY = "cancelled_by_office"
REMINDER = "reminder"
OPT_IN = "opt_in"
SATISFACTION = "satisfaction"
DOCUMENT_ARRIVED = "document_arrived"
"""The office put a document into the booking's consultation room (documents' event)."""


def manage_url(settings: BookingSettings, booking_id: uuid.UUID, page: str = "") -> str:
    """The citizen portal's page of the booking (or its ``page``, e.g. ``feedback``); the
    token rides in the fragment, which a browser never sends to a server (no access log, no
    Referer keeps it)."""
    token = manage_token_for(booking_id, settings.manage_link_secret.get_secret_value())
    path = f"/bookings/{booking_id}" + (f"/{page}" if page else "")
    return f"{settings.portal_url.rstrip('/')}{path}#token={token}"


def opt_in_url(settings: BookingSettings, booking_id: uuid.UUID, email: str) -> str:
    """The portal's page that confirms a held booking with a POST (a mail scanner's GET of
    the link confirms nothing)."""
    secret = settings.manage_link_secret.get_secret_value()
    token = opt_in_token_for(booking_id, email, secret)
    return f"{settings.portal_url.rstrip('/')}/bookings/{booking_id}/opt-in#token={token}"


def book_url(
    settings: BookingSettings,
    office_id: uuid.UUID,
    service_ids: Sequence[uuid.UUID],
    start: datetime,
) -> str:
    """The portal's page that holds this slot (``POST .../holds`` with these values)."""
    query = urlencode(
        {
            "office_id": str(office_id),
            "service_ids": ",".join(str(service_id) for service_id in service_ids),
            "start": start.astimezone(UTC).isoformat(),
        }
    )
    return f"{settings.portal_url.rstrip('/')}/book?{query}"


@dataclass(frozen=True)
class BookingMails:
    """Writes a booking's mails into the outbox (built once at startup)."""

    mailbox: Mailbox
    settings: BookingSettings

    async def send(
        self,
        session: AsyncSession,
        template: str,
        booking: Booking,
        described: BookingOut,
        office: Office,
        fees: Mapping[uuid.UUID, int | None],
        *,
        previous_start: datetime | None = None,
        alternative: Mapping[str, Any] | None = None,
        about: str | None = None,
    ) -> bool:
        """Queue mail ``template`` about ``booking`` (described in its own language); False
        when the booking has no address or the mail was queued before. ``about`` names what
        in the booking it is about, when there may be more than one (a document)."""
        if booking.email is None or booking.name is None:
            return False
        letterhead = self.settings.letterhead_of(booking.tenant)
        code = booking.code
        invitation = None
        if template not in (REMINDER, OPT_IN, SATISFACTION, DOCUMENT_ARRIVED):  # the same calendar
            cancels = template in (CANCELLED, CANCELLED_BY_MUNICIPALITY)
            method: CalendarMethod = "CANCEL" if cancels else "REQUEST"
            ics = booking_calendar(
                described,
                office,
                booking.language,
                method=method,
                sequence=booking.sequence,
                invitee=Invitee(
                    organizer=letterhead.reply_to or self.mailbox.from_address,
                    organizer_name=letterhead.sender_name,
                    attendee=booking.email,
                    attendee_name=booking.name,
                ),
            )
            invitation = Invitation(ics.decode(), method=method, filename=f"termin-{code}.ics")
        context: dict[str, Any] = {
            "name": booking.name,
            "code": code,
            "office": described.office,
            "starts_at": booking.starts_at,
            "ends_at": booking.ends_at,
            "previous_starts_at": previous_start,
            "services": [
                {"name": service.name, "fee": _euros(fees.get(service.service_id))}
                for service in described.services
            ],
            "fees": _euros(sum(fee or 0 for fee in fees.values()) or None),
            "checklist": described.checklist,
            "manage_url": manage_url(self.settings, booking.id),
            "feedback_url": manage_url(self.settings, booking.id, page="feedback"),
            "room_url": manage_url(self.settings, booking.id, page="room"),
            "video": booking.mode == "video",
            "opt_in_url": opt_in_url(self.settings, booking.id, booking.email),
            "hold_expires_at": booking.hold_expires_at,
            "portal_url": self.settings.portal_url,
            "reason": booking.cancellation_reason,
            "alternative": alternative,
        }
        return await self.mailbox.enqueue(
            session,
            subject_key=f"booking:{booking.id}" + (f":{about}" if about else ""),
            template=template,
            sequence=booking.sequence,
            to=booking.email,
            to_name=booking.name,
            context=context,
            letterhead=letterhead,
            locale=booking.language,
            tenant=booking.tenant,
            time_zone=office.time_zone,
            invitation=invitation,
        )


def _euros(cents: int | None) -> Decimal | None:
    return None if cents is None else Decimal(cents) / 100
