from __future__ import annotations

from servicekit.problems import NotFound, ValidationFailed


class ServicesNotOffered(NotFound):
    type_slug = "services-not-offered"
    title = "The office does not offer all of these services"


class TooManyServices(ValidationFailed):
    type_slug = "too-many-services"
    title = "Too many services for one appointment"


class SlotNotOffered(ValidationFailed):
    type_slug = "slot-not-offered"
    title = "This start time is not offered"
