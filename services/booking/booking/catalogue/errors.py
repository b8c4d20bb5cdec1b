from __future__ import annotations

from servicekit.problems import Conflict, NotFound


class ServiceNotFound(NotFound):
    type_slug = "service-not-found"
    title = "No such service in this municipality's catalogue"


class LeikaTaken(Conflict):
    type_slug = "leika-taken"
    title = "The catalogue already has a service with this Leistungsschlüssel"


class UnknownRequiredDocument(NotFound):
    type_slug = "required-document-not-found"
    title = "No such required document of this service"
