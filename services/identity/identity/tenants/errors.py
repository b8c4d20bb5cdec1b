from __future__ import annotations

from servicekit.problems import Conflict, Forbidden, NotFound


class TenantNotFound(NotFound):
    type_slug = "tenant-not-found"
    title = "No such municipality"


class TenantExists(Conflict):
    type_slug = "tenant-exists"
    title = "This municipality is already served"


class SelfRegistrationClosed(Forbidden):
    type_slug = "self-registration-closed"
    title = "This municipality does not take self-registrations"
