from __future__ import annotations

from servicekit.problems import Conflict, NotFound


class BookingNotFound(NotFound):
    type_slug = "booking-not-found"
    title = "No such booking"


class SlotTaken(Conflict):
    type_slug = "slot-taken"
    title = "The slot has just been taken"


class HoldExpired(Conflict):
    type_slug = "hold-expired"
    title = "The hold has expired; hold a slot again"


class BookingNotHeld(Conflict):
    type_slug = "booking-not-held"
    title = "Only a held slot can be confirmed"


class BookingNotConfirmed(Conflict):
    type_slug = "booking-not-confirmed"
    title = "Only a confirmed booking can be rescheduled"


class BookingClosed(Conflict):
    type_slug = "booking-closed"
    title = "The booking is cancelled or its appointment has begun"


class BookingLimitReached(Conflict):
    type_slug = "booking-limit-reached"
    title = "Too many open bookings for this service"


class HoldLimitReached(Conflict):
    type_slug = "hold-limit-reached"
    title = "Too many held slots; confirm or cancel one first"


class OptInPending(Conflict):
    type_slug = "opt-in-pending"
    title = "The confirmation link of this hold was already mailed to another address"
