from __future__ import annotations

from servicekit.problems import Conflict, NotFound


class TenantNotFound(NotFound):
    type_slug = "tenant-not-found"
    title = "No such municipality"


class TenantExists(Conflict):
    type_slug = "tenant-exists"
    title = "This municipality is already served"
