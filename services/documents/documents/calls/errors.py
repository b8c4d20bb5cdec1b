from __future__ import annotations

from servicekit.problems import Conflict, ServiceUnavailable, Unauthorized


class CallNotOpen(Conflict):
    type_slug = "call-not-open"
    title = "The appointment's video call is not open now"


class BookingNotConfirmed(Conflict):
    type_slug = "call-booking-not-confirmed"
    title = "Only a confirmed booking has a video call"


class TooManyCalls(ServiceUnavailable):
    type_slug = "too-many-calls"
    title = "This server holds as many call sockets as it can; try again shortly"


class InvalidLiveKitWebhook(Unauthorized):
    type_slug = "invalid-livekit-webhook"
    title = "Not a webhook signed by a configured LiveKit server"
