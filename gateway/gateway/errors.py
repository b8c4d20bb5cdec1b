"""The problems the gateway answers itself (everything else comes from the services), and how.

The proxy path never enters FastAPI, so its problems are not rendered by the kit's handler:
:func:`send_problem` writes the same RFC 9457 document straight to the ASGI ``send``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from starlette.types import Send

from servicekit.problems import (
    PROBLEM_MEDIA_TYPE,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    Problem,
    TooManyRequests,
    Unauthorized,
    problem_type,
)

_MEDIA_TYPE = PROBLEM_MEDIA_TYPE.encode()


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


async def send_problem(
    send: Send,
    problem: Problem,
    *,
    instance: str,
    request_id: bytes,
    headers: Iterable[tuple[bytes, bytes]],
) -> None:
    """Answers ``problem`` as problem+json; ``headers`` follow the problem's own."""
    document: dict[str, Any] = {
        "type": problem_type(problem.type_slug),
        "title": problem.title,
        "status": problem.status,
    }
    if problem.detail:
        document["detail"] = problem.detail
    document["instance"] = instance
    document["request_id"] = request_id.decode()
    document.update(problem.extensions)
    body = json.dumps(document).encode()
    answer = [
        (b"content-type", _MEDIA_TYPE),
        (b"content-length", str(len(body)).encode()),
        *[(k.lower().encode(), v.encode()) for k, v in problem.headers.items()],
        *headers,
    ]
    await send({"type": "http.response.start", "status": problem.status, "headers": answer})
    await send({"type": "http.response.body", "body": body})
