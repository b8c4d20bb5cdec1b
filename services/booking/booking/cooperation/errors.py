from __future__ import annotations

from servicekit.problems import Conflict, NotFound, ServiceUnavailable, ValidationFailed


class PartnerNotFound(NotFound):
    type_slug = "partner-not-found"
    title = "No such partner municipality"


class PartnerUrlRefused(ValidationFailed):
    type_slug = "partner-url-refused"
    title = "Rathaus does not call this address"


class PartnerIsItself(ValidationFailed):
    type_slug = "partner-is-itself"
    title = "A municipality is not its own partner"


class PartnerTakesNoCases(Conflict):
    type_slug = "partner-takes-no-cases"
    title = "The partner municipality takes no hand-overs from us"


class PartnerTokenRefused(ServiceUnavailable):
    type_slug = "partner-token-unavailable"
    title = "The partner's identity gave us no token; try again later"
