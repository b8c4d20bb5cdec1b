from __future__ import annotations

from servicekit.problems import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    Problem,
    ServiceUnavailable,
)


class CaseNotFound(NotFound):
    type_slug = "case-not-found"
    title = "No such case"


class NotStaff(Forbidden):
    type_slug = "not-staff"
    title = "Only clerks and administrators of this municipality may do this"


class CaseRejected(Problem):
    """The receiver refused the case; ``rejection`` is its signed word for it (a JWS)."""

    status = 422
    type_slug = "case-rejected"
    title = "The case was rejected"


class CaseUndecryptable(BadRequest):
    type_slug = "case-undecryptable"
    title = "Not encrypted to a key of ours as a JWE we accept"


class CaseDecided(Conflict):
    type_slug = "case-decided"
    title = "This case was received or rejected already and differs from what was sent"


class CaseIncomplete(Conflict):
    type_slug = "case-incomplete"
    title = "Attachments of the case are still missing"


class PartnerTakesNoCases(Conflict):
    type_slug = "partner-takes-no-cases"
    title = "The partner municipality takes no hand-overs from us"


class PartnerUnavailable(ServiceUnavailable):
    type_slug = "partner-unavailable"
    title = "The partner municipality could not be reached; hand over again later"


class NothingToHandOver(Conflict):
    type_slug = "nothing-to-hand-over"
    title = "The booking cannot be handed over"
