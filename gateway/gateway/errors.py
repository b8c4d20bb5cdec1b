from __future__ import annotations

from servicekit.problems import NotFound, Problem


class UnknownService(NotFound):
    type_slug = "unknown-service"
    title = "No service answers this path"


class UpstreamUnavailable(Problem):
    status = 503
    type_slug = "upstream-unavailable"
    title = "The service behind this path is unavailable"


class UpstreamTimeout(Problem):
    status = 504
    type_slug = "upstream-timeout"
    title = "The service behind this path did not answer in time"
