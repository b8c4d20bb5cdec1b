"""The edge checks: what a request must pass before the gateway sends it to a service.

The ASGI entry (:mod:`gateway.asgi`) runs them once per request, in this order:

- the path: no ``.`` or ``..`` segments (400);
- CORS: a preflight is answered here (204, or 403 for an origin not in ``cors_origins``);
  answers to an allowed origin carry the CORS headers;
- the route class: the first that matches path and method (503 when none does; 413 for a body
  above its limit);
- the rate limits and the token: the client address's bucket first, so that a flood of bad
  tokens is limited before each costs a signature check; then the token (401; on the OAuth2
  endpoints ``Basic`` is a client's authentication and left to identity); then the bucket
  of the token's subject (429 with ``Retry-After`` when a bucket is empty).

A WebSocket upgrade passes the same route, token and limit checks, and its ``Origin`` must be
allowed or the gateway's own host: a page from a foreign origin must not ride on the user's
cookies. The services verify every token again; this is the early check.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from starlette.types import Message, Scope, Send

from gateway.errors import (
    BodyTooLarge,
    OriginNotAllowed,
    RateLimited,
    TokenRequired,
    UpstreamUnavailable,
)
from gateway.exchange import Exchange
from gateway.ratelimit import Decision, Limiter
from gateway.settings import Bucket, GatewaySettings, RouteClass
from gateway.tokens import VerifiedTokens
from servicekit.problems import BadRequest

Headers = list[tuple[bytes, bytes]]

_SECURITY = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
)
_HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
_EXPOSED = b"x-request-id, traceparent, retry-after, ratelimit, ratelimit-policy, location"
REPLACED_BY_EDGE = frozenset(
    {
        b"x-request-id",
        b"traceparent",
        b"access-control-allow-origin",
        b"access-control-allow-credentials",
        b"access-control-expose-headers",
    }
    | {name for name, _ in _SECURITY}
)
"""Headers of a service's answer that the edge's own take the place of."""
_PREFLIGHT = (
    (b"access-control-allow-methods", b"GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"),
    (
        b"access-control-allow-headers",
        # Every request header the services' contracts take (a test checks the list).
        b"accept-language, authorization, content-type, idempotency-key, if-match, "
        b"if-none-match, last-event-id, traceparent, x-altcha, x-manage-token, x-request-id",
    ),
)


class Edge:
    """The edge checks, with what they need: route classes, origins, limiter, known tokens."""

    def __init__(
        self, settings: GatewaySettings, *, limiter: Limiter, verifier: Callable[[], Any]
    ) -> None:
        self._routes = [
            (route, _prefix_pattern(route.prefixes)) for route in settings.route_classes
        ]
        self._origins = frozenset(o.encode() for o in settings.cors_origins)
        self._cors_max_age = str(settings.cors_max_age_s).encode()
        security = list(_SECURITY)
        if settings.environment.value == "production":
            security.append(_HSTS)
        self.security: tuple[tuple[bytes, bytes], ...] = tuple(security)
        """The security headers on every answer (HSTS in production)."""
        self._limiter = limiter
        self._verifier = verifier
        self._tokens = VerifiedTokens()

    # the answer's headers --------------------------------------------------------------
    def answer_headers(self, exchange: Exchange) -> Headers:
        """What every answer to this request carries: its ids, security and CORS headers."""
        headers: Headers = [
            (b"x-request-id", exchange.request_id),
            (b"traceparent", exchange.traceparent),
            *self.security,
        ]
        origin = exchange.origin
        if origin is not None and origin in self._origins:
            headers.extend(self._cors_headers(origin))
        return headers

    def with_edge_headers(self, scope: Scope, send: Send) -> Send:
        """Security and CORS headers on the gateway's own answers too (docs UI excepted)."""
        docs = scope["path"].startswith("/docs")
        origin = None
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                # The portal's pages bring a policy of their own (gateway.portal).
                own = {name.lower() for name, _ in headers}
                headers.extend(
                    h
                    for h in self.security
                    if h[0] not in own and not (docs and h[0].startswith(b"c"))
                )
                if origin is not None and origin in self._origins:
                    headers.extend(self._cors_headers(origin))
                message = {**message, "headers": headers}
            await send(message)

        return wrapped

    def _cors_headers(self, origin: bytes) -> Headers:
        return [
            (b"access-control-allow-origin", origin),
            (b"access-control-allow-credentials", b"true"),
            (b"access-control-expose-headers", _EXPOSED),
            (b"vary", b"Origin"),
        ]

    # the checks ------------------------------------------------------------------------
    async def answer_preflight(self, send: Send, exchange: Exchange, headers: Headers) -> None:
        """Answers a CORS preflight here: 204 for an allowed origin, 403 for any other."""
        if "/." in exchange.path:
            _reject_dot_segments(exchange.path)
        if exchange.origin not in self._origins:
            raise OriginNotAllowed()
        exchange.status = 204
        answer = [
            *headers,
            *_PREFLIGHT,
            (b"access-control-max-age", self._cors_max_age),
            (b"content-length", b"0"),
        ]
        await send({"type": "http.response.start", "status": 204, "headers": answer})
        await send({"type": "http.response.body", "body": b""})

    async def admit(self, exchange: Exchange) -> Headers:
        """Checks an HTTP request (its route class is set on it); the RateLimit headers to
        answer with. Raises the problem to answer instead."""
        if "/." in exchange.path:
            _reject_dot_segments(exchange.path)
        route = self.route_of(exchange.path, exchange.method)
        if route is None:
            raise UpstreamUnavailable("No route class matches this request.")
        exchange.route = route
        if exchange.content_length > route.max_body_bytes:
            raise BodyTooLarge(f"The body may have at most {route.max_body_bytes} bytes.")
        return await self._take_and_verify(route, exchange.client_ip, exchange.authorization)

    async def admit_upgrade(
        self, path: str, headers: Mapping[bytes, bytes], client_ip: str
    ) -> RouteClass:
        """Checks a WebSocket upgrade; its route class. Raises the problem that refuses it."""
        route = self.route_of(path, "GET")
        if route is None:
            raise UpstreamUnavailable("No route class matches this request.")
        origin = headers.get(b"origin")
        if origin is not None and not (
            origin in self._origins or _same_origin(origin, headers.get(b"host"))
        ):
            raise OriginNotAllowed()
        await self._take_and_verify(route, client_ip, headers.get(b"authorization"))
        return route

    def route_of(self, path: str, method: str) -> RouteClass | None:
        for route, pattern in self._routes:
            if route.methods is not None and method not in route.methods:
                continue
            if pattern is None or pattern.match(path):
                return route
        return None

    async def _take_and_verify(
        self, route: RouteClass, client_ip: str, authorization: bytes | None
    ) -> Headers:
        # The address's bucket first: a flood of bad tokens is limited before each costs a
        # signature check.
        by_ip = None
        if route.per_ip is not None:
            by_ip = await self._take("ip", f"{route.name}:ip:{client_ip}", route.per_ip)
            if by_ip is not None and not by_ip.allowed:
                _limit_headers(route, by_ip)
        subject = None
        if route.signed_by_sender:
            pass  # the service checks the sender's signature
        elif authorization is not None and not (route.client_auth and _is_basic(authorization)):
            subject = await self._subject(authorization)
        elif route.auth == "required":
            raise TokenRequired()
        by_subject = None
        if subject is not None and route.per_subject is not None:
            by_subject = await self._take(
                "subject", f"{route.name}:sub:{subject}", route.per_subject
            )
        return _limit_headers(route, by_ip, by_subject)

    async def _subject(self, authorization: bytes) -> str | None:
        """The verified token's subject (None while no verifier is set up); a bad token is
        refused here already."""
        scheme, _, token = authorization.decode("latin-1").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise TokenRequired("Send the access token as 'Authorization: Bearer <token>'.")
        verifier = self._verifier()
        if verifier is None:
            return None
        principal = await self._tokens.principal(verifier, token)
        subject: str = principal.subject
        return subject

    async def _take(self, policy: str, key: str, bucket: Bucket) -> Decision:
        # With Redis unreachable the limiter decides per process (gateway.ratelimit).
        return await self._limiter.take(policy, key, bucket)


def _limit_headers(route: RouteClass, *taken: Decision | None) -> Headers:
    """RateLimit headers for the tightest bucket; 429 when any bucket is empty."""
    decisions = [d for d in taken if d is not None]
    if not decisions:
        return []
    denied = [d for d in decisions if not d.allowed]
    shown = (
        max(denied, key=lambda d: d.retry_after_s)
        if denied
        else min(decisions, key=lambda d: d.remaining)
    )
    policy = f"{route.name}-{shown.policy}"
    headers = {
        "RateLimit-Policy": f'"{policy}";q={shown.limit};w={shown.window_s}',
        "RateLimit": f'"{policy}";r={shown.remaining};t={shown.reset_s}',
    }
    if denied:
        raise RateLimited(headers={**headers, "Retry-After": str(shown.retry_after_s)})
    return [(k.lower().encode(), v.encode()) for k, v in headers.items()]


def _is_basic(authorization: bytes) -> bool:
    return authorization.lstrip()[:6].lower() == b"basic "


def _reject_dot_segments(path: str) -> None:
    if any(segment in (".", "..") for segment in path.split("/")):
        raise BadRequest("Paths with '.' or '..' segments are not accepted.")


def _same_origin(origin: bytes, host: bytes | None) -> bool:
    return host is not None and origin.split(b"://", 1)[-1] == host


def _prefix_pattern(prefixes: tuple[str, ...]) -> re.Pattern[str] | None:
    if not prefixes:
        return None
    parts = [re.escape(prefix).replace(r"\*", "[^/]+") for prefix in prefixes]
    return re.compile("|".join(parts))
