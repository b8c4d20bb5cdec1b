"""What the gateway learns of one HTTP request on its way in, in one pass over its headers.

The pass sets apart the headers that go on to the service from the connection-specific ones
(RFC 9110 section 7.6.1) and those the gateway sets itself, and keeps what the edge checks and
the forwarder need: the token, the origin, the body's framing, whether a retry is safe, and the
client's address (:class:`ClientAddresses`: forwarding headers believed only from trusted
proxies). The same :class:`Exchange` then collects the route class and the status for
the metrics and the access log.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

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
        b"forwarded",
    }
)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


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
    client_ip: str
    request_id: bytes
    traceparent: bytes
    """The trace context the service gets (and the client, back)."""
    incoming_traceparent: bytes | None
    started: float
    route: RouteClass | None = None
    status: int = 0


class ClientAddresses:
    """The client's address: the peer's, unless the peer is a trusted proxy.

    From a peer in ``trusted`` the forwarding header (``X-Forwarded-For``, or ``Forwarded`` when
    that is what the proxies set) is read right to left, past the hops that are trusted proxies
    themselves: the first other hop is the client. A hop that is not an address (garbage,
    ``unknown``, an obfuscated name) ends the walk at the proxy that reported it, so a client
    cannot pick the address its limits are counted under.
    """

    def __init__(
        self,
        trusted: Iterable[Network],
        header: Literal["x-forwarded-for", "forwarded"] = "x-forwarded-for",
    ) -> None:
        self._trusted = tuple(trusted)
        self._header = header.encode()

    def _is_trusted(self, address: Address) -> bool:
        return any(address in network for network in self._trusted)

    def resolve(self, scope: Scope) -> str:
        client = scope.get("client")
        peer: str = client[0] if client else "unknown"
        if not self._trusted:
            return peer
        nearest = _address(peer)
        if nearest is None or not self._is_trusted(nearest):
            return peer
        values = [value for name, value in scope["headers"] if name == self._header]
        hops = _forwarded_hops(values) if self._header == b"forwarded" else _xff_hops(values)
        for hop in reversed(hops):
            address = _address(hop)
            if address is None:
                break
            nearest = address
            if not self._is_trusted(address):
                break
        return str(nearest)


def _xff_hops(values: list[bytes]) -> list[str]:
    return [hop.strip() for value in values for hop in value.decode("latin-1").split(",")]


def _forwarded_hops(values: list[bytes]) -> list[str]:
    """The ``for=`` of each element of ``Forwarded`` (RFC 7239); "" where an element has none."""
    hops: list[str] = []
    for value in values:
        for element in value.decode("latin-1").split(","):
            hop = ""
            for pair in element.split(";"):
                key, _, found = pair.partition("=")
                if key.strip().lower() == "for":
                    hop = found.strip().strip('"')
            hops.append(hop)
    return hops


def _address(text: str) -> Address | None:
    """An address as a hop names it: ``192.0.2.1``, ``192.0.2.1:4711``, ``[2001:db8::1]:4711``."""
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def read_exchange(scope: Scope, *, addresses: ClientAddresses) -> Exchange:
    method: str = scope["method"]
    incoming_id = incoming_trace = authorization = origin = idempotency = None
    preflight = host = None
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
        client_ip=addresses.resolve(scope),
        request_id=make_request_id(incoming_id),
        traceparent=make_traceparent(incoming_trace),
        incoming_traceparent=incoming_trace,
        started=time.perf_counter(),
    )
