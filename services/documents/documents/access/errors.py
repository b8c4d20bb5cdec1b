"""The problems of asking booking what a caller may do with a booking's documents."""

from __future__ import annotations

from servicekit.problems import Conflict, NotFound, ServiceUnavailable


class BookingNotFound(NotFound):
    type_slug = "booking-not-found"
    title = "No such booking, or not yours"


class BookingUnavailableProblem(ServiceUnavailable):
    type_slug = "booking-unavailable"
    title = "The booking service cannot be asked right now"


class BookingClosed(Conflict):
    type_slug = "booking-closed"
    title = "The booking is cancelled or expired: no more uploads"
