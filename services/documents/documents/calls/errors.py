from __future__ import annotations

from servicekit.problems import Conflict, Forbidden, NotFound, ServiceUnavailable, Unauthorized


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


class NotAClerk(Forbidden):
    type_slug = "call-clerk-only"
    title = "Only a clerk of the booking's office admits a citizen to the call"


class NoLiveKit(Conflict):
    type_slug = "call-not-on-livekit"
    title = "The municipality's calls do not go to a LiveKit server"


class ParticipantNotWaiting(NotFound):
    type_slug = "call-participant-not-found"
    title = "No such participant is in the LiveKit room"


class LiveKitUnavailable(ServiceUnavailable):
    type_slug = "livekit-unavailable"
    title = "The municipality's LiveKit server did not answer; try again shortly"
