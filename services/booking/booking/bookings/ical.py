"""An RFC 5545 calendar file per booking, in the office's time zone."""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

from booking.bookings.schemas import BookingOut
from booking.offices.models import Office
from servicekit.db import utcnow

_STATUS = {"confirmed": "CONFIRMED", "cancelled": "CANCELLED"}
_TEXT = {
    "de": {"code": "Buchungscode", "bring": "Bitte mitbringen", "optional": "optional"},
    "en": {"code": "Booking code", "bring": "Please bring", "optional": "optional"},
}


def booking_calendar(booking: BookingOut, office: Office, language: str) -> bytes:
    text = _TEXT["en" if language == "en" else "de"]
    zone = ZoneInfo(office.time_zone)
    calendar = Calendar()
    calendar.add("prodid", "-//Rathaus//Booking//DE")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"{booking.id}@booking.rathaus")
    event.add("dtstamp", utcnow())
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
