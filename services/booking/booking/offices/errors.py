from __future__ import annotations

from servicekit.problems import NotFound, ValidationFailed


class OfficeNotFound(NotFound):
    type_slug = "office-not-found"
    title = "No such office in this municipality"


class UnknownOfficeService(ValidationFailed):
    type_slug = "unknown-office-service"
    title = "An office can only offer services of its municipality's catalogue"
