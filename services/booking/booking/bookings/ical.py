"""An RFC 5545 calendar file per booking, in the office's time zone.

The same event travels as the download (``METHOD:PUBLISH``) and in the booking's mails as an
iMIP invitation (RFC 6047): ``REQUEST`` with the organizer (the municipality's sender) and the
citizen as attendee, and ``CANCEL`` when it is called off. Its UID is the booking's, and its
SEQUENCE the booking's, raised on every change, so a calendar replaces the entry it holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress

from booking.bookings.schemas import BookingOut
from booking.offices.models import Office
from servicekit.db import utcnow

CalendarMethod = Literal["PUBLISH", "REQUEST", "CANCEL"]
_STATUS = {"confirmed": "CONFIRMED", "cancelled": "CANCELLED"}
_TEXT = {
    "de": {"code": "Buchungscode", "bring": "Bitte mitbringen", "optional": "optional"},
    "en": {"code": "Booking code", "bring": "Please bring", "optional": "optional"},
}


@dataclass(frozen=True)
class Invitee:
    """Who an iMIP invitation is from and to (RFC 5546 requires both on REQUEST and CANCEL)."""

    organizer: str
    organizer_name: str
    attendee: str
    attendee_name: str


def booking_calendar(
    booking: BookingOut,
    office: Office,
    language: str,
    *,
    method: CalendarMethod = "PUBLISH",
    sequence: int = 0,
    invitee: Invitee | None = None,
) -> bytes:
    text = _TEXT["en" if language == "en" else "de"]
    zone = ZoneInfo(office.time_zone)
    calendar = Calendar()
    calendar.add("prodid", "-//Rathaus//Booking//DE")
    calendar.add("version", "2.0")
    calendar.add("method", method)
    event = Event()
    event.add("uid", f"{booking.id}@booking.rathaus")
    event.add("sequence", sequence)
    event.add("dtstamp", utcnow())
    if invitee is not None:
        organizer = vCalAddress(f"mailto:{invitee.organizer}")
        organizer.params["cn"] = invitee.organizer_name
        event.add("organizer", organizer)
        attendee = vCalAddress(f"mailto:{invitee.attendee}")
        attendee.params["cn"] = invitee.attendee_name
        attendee.params["role"] = "REQ-PARTICIPANT"
        attendee.params["partstat"] = "ACCEPTED"
        event.add("attendee", attendee)
    event.add("dtstart", booking.starts_at.astimezone(zone))
    event.add("dtend", booking.ends_at.astimezone(zone))
    event.add("summary", f"{office.name}: {', '.join(s.name for s in booking.services)}")
    event.add("location", f"{office.name}, {office.street}, {office.postal_code} {office.city}")
    if office.latitude is not None and office.longitude is not None:
        event.add("geo", (office.latitude, office.longitude))
    event.add("status", _STATUS.get(booking.status, "TENTATIVE"))
    lines: Sequence[str] = [
        f"{text['code']}: {booking.code}",
        "",
        f"{text['bring']}:",
        *(
            f"- {item.name}" + ("" if item.mandatory else f" ({text['optional']})")
            for item in booking.checklist
        ),
    ]
    event.add("description", "\n".join(lines))
    calendar.add_component(event)
    calendar.add_missing_timezones()
    data: bytes = calendar.to_ical()
    return data
