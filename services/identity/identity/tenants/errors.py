from __future__ import annotations

from servicekit.problems import NotFound


class TenantNotFound(NotFound):
    type_slug = "tenant-not-found"
    title = "No such municipality"
