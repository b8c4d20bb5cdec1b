"""What the gateway learns of one HTTP request on its way in, in one pass over its headers.

The pass sets apart the headers that go on to the service from the connection-specific ones
(RFC 9110 section 7.6.1) and those the gateway sets itself, and keeps what the edge checks and
the forwarder need: the token, the origin, the body's framing, whether a retry is safe, and the
client's address. The same :class:`Exchange` then collects the route class and the status for
the metrics and the access log.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from starlette.types import Scope

from gateway.settings import RouteClass
from gateway.tracing import request_id as make_request_id
from gateway.tracing import traceparent as make_traceparent

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
_NOT_FORWARDED = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"expect",
        b"x-request-id",
        b"traceparent",
        b"x-forwarded-for",
        b"x-forwarded-host",
        b"x-forwarded-proto",
    }
)


@dataclass(slots=True)
class Exchange:
    """One proxied HTTP request: what came in, and what became of it."""

    method: str
    path: str
    headers: list[tuple[bytes, bytes]]
    """The request's headers that go on to the service."""
    content_length: int
    """-1 when the length is not known up front (no ``Content-Length``, or chunked)."""
    chunked: bool
    authorization: bytes | None
    origin: bytes | None
    preflight: bool
    """A CORS preflight: ``OPTIONS`` with an ``Origin`` and ``Access-Control-Request-Method``."""
    retryable: bool
    """Safe to send twice: an idempotent method, or an ``Idempotency-Key``."""
    host: bytes | None
    forwarded_for: bytes | None
    client_ip: str
    request_id: bytes
    traceparent: bytes
    started: float
    route: RouteClass | None = None
    status: int = 0


def read_exchange(scope: Scope, *, trust_forwarded_for: bool) -> Exchange:
    method: str = scope["method"]
    incoming_id = incoming_trace = authorization = origin = idempotency = None
    preflight = forwarded_for = host = None
    content_length = -1
    chunked = False
    forward: list[tuple[bytes, bytes]] = []
    for name, value in scope["headers"]:
        if name in _NOT_FORWARDED:
            if name == b"x-request-id":
                incoming_id = value
            elif name == b"traceparent":
                incoming_trace = value
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"host":
                host = value
            elif name == b"x-forwarded-for":
                forwarded_for = value
            continue
        if name == b"content-length":
            try:
                content_length = int(value)
            except ValueError:
                content_length = -1
        elif name == b"authorization":
            authorization = value
        elif name == b"origin":
            origin = value
        elif name == b"idempotency-key":
            idempotency = value
        elif name == b"access-control-request-method":
            preflight = value
        forward.append((name, value))

    if chunked and content_length >= 0:
        # Both framings: chunked wins (RFC 9112 6.3), and only it goes on, never both.
        forward = [h for h in forward if h[0] != b"content-length"]
        content_length = -1

    return Exchange(
        method=method,
        path=scope["path"],
        headers=forward,
        content_length=content_length,
        chunked=chunked,
        authorization=authorization,
        origin=origin,
        preflight=method == "OPTIONS" and preflight is not None and origin is not None,
        retryable=method in IDEMPOTENT or idempotency is not None,
        host=host,
        forwarded_for=forwarded_for,
        client_ip=client_address(scope, forwarded_for if trust_forwarded_for else None),
        request_id=make_request_id(incoming_id),
        traceparent=make_traceparent(incoming_trace),
        started=time.perf_counter(),
    )


def client_address(scope: Scope, forwarded_for: bytes | None = None) -> str:
    """The client's IP address: the last hop of a (trusted) X-Forwarded-For, else the peer's."""
    client = scope.get("client")
    address: str = client[0] if client else "unknown"
    if forwarded_for:
        return forwarded_for.decode("latin-1").rsplit(",", 1)[-1].strip() or address
    return address
