from __future__ import annotations

from servicekit.problems import Conflict, Forbidden, ValidationFailed


class CheckInClosed(Conflict):
    type_slug = "check-in-closed"
    title = "Check-in is open only shortly before and during the appointment"


class CheckInNeedsConfirmation(Conflict):
    type_slug = "check-in-needs-confirmation"
    title = "Only a confirmed booking can be checked in"


class NotCheckedIn(Conflict):
    type_slug = "not-checked-in"
    title = "The citizen has not checked in"


class NobodyWaiting(Conflict):
    type_slug = "nobody-waiting"
    title = "Nobody checked in is waiting at this office"


class VisitNotCalled(Conflict):
    type_slug = "visit-not-called"
    title = "Only a visit called to a counter can be completed"


class VisitCompleted(Conflict):
    type_slug = "visit-completed"
    title = "The visit is already completed"


class VisitNotCompleted(Conflict):
    type_slug = "visit-not-completed"
    title = "Feedback can be given once the visit is completed"


class AlreadyRated(Conflict):
    type_slug = "already-rated"
    title = "This visit has already been rated"


class NotTheCitizen(Forbidden):
    type_slug = "not-the-citizen"
    title = "Only the citizen of the booking may do this"


class InvalidPeriod(ValidationFailed):
    type_slug = "invalid-period"
    title = "The period must run forwards and span at most a year"
