"""The problems the gateway answers itself (everything else comes from the services)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from servicekit.problems import (
    Forbidden,
    NotFound,
    PayloadTooLarge,
    Problem,
    TooManyRequests,
    Unauthorized,
)


class UnknownService(NotFound):
    type_slug = "unknown-service"
    title = "No service answers this path"


class UpstreamUnavailable(Problem):
    status = 503
    type_slug = "upstream-unavailable"
    title = "The service behind this path is unavailable"


class CircuitOpen(UpstreamUnavailable):
    type_slug = "upstream-circuit-open"
    title = "The service behind this path is failing; try again later"


class UpstreamBroken(Problem):
    status = 502
    type_slug = "upstream-broken"
    title = "The service behind this path broke off its answer"


class UpstreamTimeout(Problem):
    status = 504
    type_slug = "upstream-timeout"
    title = "The service behind this path did not answer in time"


class BodyTooLarge(PayloadTooLarge):
    type_slug = "payload-too-large"


class RateLimited(TooManyRequests):
    type_slug = "rate-limited"
    title = "Too many requests; slow down"


class OriginNotAllowed(Forbidden):
    type_slug = "origin-not-allowed"
    title = "Cross-origin requests from this origin are not allowed"


class TokenRequired(Unauthorized):
    """The same problem type as the services' own 401 (servicekit.auth), checked at the edge."""

    type_slug = "invalid-token"
    title = "Missing or invalid access token"

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(
            detail or "An access token is required.",
            headers={"WWW-Authenticate": "Bearer", **(headers or {})},
            **extensions,
        )
