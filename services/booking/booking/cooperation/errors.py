from __future__ import annotations

from servicekit.problems import NotFound, ValidationFailed


class PartnerNotFound(NotFound):
    type_slug = "partner-not-found"
    title = "No such partner municipality"


class PartnerUrlRefused(ValidationFailed):
    type_slug = "partner-url-refused"
    title = "Rathaus does not call this address"


class PartnerIsItself(ValidationFailed):
    type_slug = "partner-is-itself"
    title = "A municipality is not its own partner"
