"""The proxy path: a raw ASGI handler in front of the gateway's FastAPI app.

Requests for ``/<service>/...`` of a configured service never enter FastAPI's routing: they
are checked (CORS, body size, token, rate limits, circuit breaker) and streamed to a replica
of the service with :mod:`gateway.http1`. Everything else (``/livez``, ``/readyz``,
``/openapi.json``, ``/docs``, ``/metrics``) is the FastAPI app's. Every answer the gateway
makes itself is RFC 9457 problem+json.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import (
    BodyTooLarge,
    CircuitOpen,
    OriginNotAllowed,
    RateLimited,
    TokenRequired,
    UpstreamBroken,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from gateway.http1 import (
    ConnectFailed,
    Connection,
    DeadlineExceeded,
    RequestNotSent,
    ResponseFailed,
    UpstreamError,
)
from gateway.metrics import ProxyMetrics
from gateway.ratelimit import Decision, Limiter
from gateway.settings import Bucket, GatewaySettings, RouteClass
from gateway.tokens import VerifiedTokens
from gateway.tracing import request_id as make_request_id
from gateway.tracing import traceparent as make_traceparent
from gateway.upstreams import BreakerState, Replica, Upstream, Upstreams
from gateway.websocket import relay
from servicekit.problems import (
    PROBLEM_MEDIA_TYPE,
    BadRequest,
    Problem,
    ServiceUnavailable,
    problem_type,
)
from servicekit.requestid import request_id_var

logger = logging.getLogger("gateway.proxy")
access_logger = logging.getLogger("gateway.access")

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
# RFC 9110 section 7.6.1: connection-specific fields; plus the ones the gateway sets itself.
_REQUEST_DROP = frozenset(
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
_SECURITY = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
)
_HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
_RESPONSE_DROP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"transfer-encoding",
        b"trailer",
        b"upgrade",
        b"proxy-authenticate",
        b"date",
        b"server",
        b"x-request-id",
        b"traceparent",
        b"access-control-allow-origin",
        b"access-control-allow-credentials",
        b"access-control-expose-headers",
    }
    | {name for name, _ in _SECURITY}
)
_EXPOSED = b"x-request-id, traceparent, retry-after, ratelimit, ratelimit-policy, location"
_BUFFER_FOR_RETRY = 64 * 1024
_SMALL_BODY = 64 * 1024
_CHUNK_END = b"0\r\n\r\n"


class ClientGone(Exception):
    """The client disconnected while its request was on its way."""


@dataclass(slots=True)
class Exchange:
    """What the gateway learnt of one request on its way in."""

    method: str
    path: str
    request_id: bytes
    traceparent: bytes
    origin: bytes | None
    client_ip: str
    started: float
    route: RouteClass | None = None
    status: int = 0


class Proxy:
    """ASGI entry point of the gateway: proxied services here, the rest to ``app``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: GatewaySettings,
        upstreams: Upstreams,
        limiter: Limiter,
        verifier: Callable[[], Any],
        metrics: ProxyMetrics | None = None,
    ) -> None:
        self.app = app
        self._metrics = metrics
        self._tokens = VerifiedTokens()
        self.settings = settings
        self.upstreams = upstreams
        self.limiter = limiter
        self._verifier = verifier
        self._routes = [
            (route, _prefix_pattern(route.prefixes)) for route in settings.route_classes
        ]
        self._origins = frozenset(o.encode() for o in settings.cors_origins)
        self._security = list(_SECURITY)
        if settings.environment.value == "production":
            self._security.append(_HSTS)
        self._connect_timeout_s = settings.connect_timeout_s
        self._backoff_s = settings.retry_backoff_s
        self._backoff_cap_s = settings.retry_backoff_cap_s
        self._access_log = settings.access_log
        self._trust_forwarded_for = settings.trust_forwarded_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http" or kind == "websocket":
            path: str = scope["path"]
            end = path.find("/", 1)
            name = path[1:end] if end > 0 else path[1:]
            upstream = self.upstreams.by_name.get(name)
            if upstream is not None:
                if kind == "http":
                    await self._http(scope, receive, send, upstream)
                else:
                    await relay(self, scope, receive, send, upstream)
                return
            if kind == "http":
                if path == "/readyz" and scope["method"] in ("GET", "HEAD"):
                    await self._readyz(scope, send)
                    return
                await self.app(scope, receive, self._own_response_headers(scope, send))
                return
        await self.app(scope, receive, send)

    async def _readyz(self, scope: Scope, send: Send) -> None:
        """Ready while at least one service is: one service down must not take the gateway
        (and with it every other service) out of a load balancer. The body says which."""
        checks = await self.upstreams.readiness(self.settings.readiness_timeout_s)
        ready = [name for name, state in checks.items() if state == "ok"]
        incoming = next((v for k, v in scope["headers"] if k == b"x-request-id"), None)
        rid = make_request_id(incoming)
        document: dict[str, Any]
        if ready or not checks:
            status = 200
            state = "ok" if len(ready) == len(checks) else "degraded"
            document = {"status": state, "checks": checks}
            media = b"application/json"
        else:
            status = 503
            document = {
                "type": problem_type(ServiceUnavailable.type_slug),
                "title": ServiceUnavailable.title,
                "status": 503,
                "detail": "No service behind the gateway is ready.",
                "instance": "/readyz",
                "request_id": rid.decode(),
                "checks": checks,
            }
            media = PROBLEM_MEDIA_TYPE.encode()
        body = json.dumps(document).encode()
        headers = [
            (b"content-type", media),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
            (b"x-request-id", rid),
            *self._security,
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _own_response_headers(self, scope: Scope, send: Send) -> Send:
        """Security and CORS headers on the gateway's own answers too (docs UI excepted)."""
        docs = scope["path"].startswith("/docs")
        origin = None
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                headers.extend(h for h in self._security if not (docs and h[0].startswith(b"c")))
                if origin is not None and origin in self._origins:
                    headers.extend(self._cors_headers(origin))
                message = {**message, "headers": headers}
            await send(message)

        return wrapped

    def origin_allowed(self, origin: bytes) -> bool:
        return origin in self._origins

    def _cors_headers(self, origin: bytes) -> list[tuple[bytes, bytes]]:
        return [
            (b"access-control-allow-origin", origin),
            (b"access-control-allow-credentials", b"true"),
            (b"access-control-expose-headers", _EXPOSED),
            (b"vary", b"Origin"),
        ]

    def route_of(self, path: str, method: str) -> RouteClass | None:
        for route, pattern in self._routes:
            if route.methods is not None and method not in route.methods:
                continue
            if pattern is None or pattern.match(path):
                return route
        return None

    # the request path -----------------------------------------------------------------
    async def _http(self, scope: Scope, receive: Receive, send: Send, upstream: Upstream) -> None:
        method: str = scope["method"]
        path: str = scope["path"]
        incoming_id = incoming_trace = authorization = origin = idempotency = None
        preflight = forwarded_for = host = None
        content_length = -1
        chunked = False
        forward: list[tuple[bytes, bytes]] = []
        for name, value in scope["headers"]:
            if name in _REQUEST_DROP:
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

        client = scope.get("client")
        client_ip = client[0] if client else "unknown"
        if self._trust_forwarded_for and forwarded_for:
            client_ip = forwarded_for.decode("latin-1").rsplit(",", 1)[-1].strip() or client_ip
        exchange = Exchange(
            method=method,
            path=path,
            request_id=make_request_id(incoming_id),
            traceparent=make_traceparent(incoming_trace),
            origin=origin if origin is not None and origin in self._origins else None,
            client_ip=client_ip,
            started=time.perf_counter(),
        )
        extra: list[tuple[bytes, bytes]] = [
            (b"x-request-id", exchange.request_id),
            (b"traceparent", exchange.traceparent),
            *self._security,
        ]
        if exchange.origin is not None:
            extra.extend(self._cors_headers(exchange.origin))
        context = request_id_var.set(exchange.request_id.decode())
        try:
            if "/." in path and _has_dot_segment(path):
                raise BadRequest("Paths with '.' or '..' segments are not accepted.")
            if method == "OPTIONS" and preflight is not None and origin is not None:
                await self._preflight(exchange, send, extra)
                return
            route = self.route_of(path, method)
            if route is None:
                raise UpstreamUnavailable("No route class matches this request.")
            exchange.route = route
            if content_length > route.max_body_bytes:
                raise BodyTooLarge(f"The body may have at most {route.max_body_bytes} bytes.")
            # The address's bucket first: a flood of bad tokens is limited before each costs
            # a signature check.
            by_ip = await self.take_ip(route, exchange.client_ip)
            if by_ip is not None and not by_ip.allowed:
                self.limit_headers(route, [by_ip])
            subject = await self.authenticate(route, authorization)
            by_subject = await self.take_subject(route, subject)
            extra.extend(self.limit_headers(route, [by_ip, by_subject]))
            forward.append((b"x-request-id", exchange.request_id))
            forward.append((b"traceparent", exchange.traceparent))
            forward.append(
                (
                    b"x-forwarded-for",
                    (forwarded_for + b", " if forwarded_for else b"")
                    + exchange.client_ip.encode("latin-1"),
                )
            )
            forward.append((b"x-forwarded-proto", scope.get("scheme", "http").encode()))
            if host is not None:
                forward.append((b"x-forwarded-host", host))
            await self._forward(
                scope,
                receive,
                send,
                upstream,
                exchange,
                forward,
                extra,
                content_length=content_length,
                chunked=chunked,
                retryable=method in IDEMPOTENT or idempotency is not None,
            )
        except Problem as problem:
            await self._problem(send, exchange, problem, extra)
        except ClientGone:
            exchange.status = 499
        except Exception:
            # The last line of defence, as in the kit's middleware: log it, answer a bare 500
            # problem if nothing was sent yet, otherwise let the server cut the connection.
            logger.exception("unhandled error on the proxy path")
            if exchange.status:
                raise
            await self._problem(send, exchange, Problem(), extra)
        finally:
            if self._metrics is not None:
                self._metrics.observe(
                    upstream.name,
                    exchange.route.name if exchange.route else "<none>",
                    exchange.status,
                    time.perf_counter() - exchange.started,
                )
            if self._access_log and access_logger.isEnabledFor(logging.INFO):
                access_logger.info(
                    "request",
                    extra={
                        "method": method,
                        "route": exchange.route.name if exchange.route else "<none>",
                        "upstream": upstream.name,
                        "status": exchange.status,
                        "duration_ms": round((time.perf_counter() - exchange.started) * 1000, 2),
                    },
                )
            request_id_var.reset(context)

    async def _preflight(
        self, exchange: Exchange, send: Send, extra: list[tuple[bytes, bytes]]
    ) -> None:
        if exchange.origin is None:
            raise OriginNotAllowed()
        headers = [
            *extra,
            (b"access-control-allow-methods", b"GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"),
            (
                b"access-control-allow-headers",
                b"authorization, content-type, idempotency-key, if-match, if-none-match, "
                b"x-request-id, traceparent",
            ),
            (b"access-control-max-age", str(self.settings.cors_max_age_s).encode()),
            (b"content-length", b"0"),
        ]
        exchange.status = 204
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    async def authenticate(self, route: RouteClass, authorization: bytes | None) -> str | None:
        """The verified subject, None without a token; a bad token is rejected here already."""
        if authorization is None:
            if route.auth == "required":
                raise TokenRequired()
            return None
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

    async def check_limits(
        self, route: RouteClass, client_ip: str, subject: str | None
    ) -> list[tuple[bytes, bytes]]:
        """Take a token from the buckets of this request; the RateLimit headers to answer."""
        decisions = [await self.take_ip(route, client_ip)]
        decisions.append(await self.take_subject(route, subject))
        return self.limit_headers(route, decisions)

    async def take_ip(self, route: RouteClass, client_ip: str) -> Decision | None:
        if route.per_ip is None:
            return None
        return await self._take("ip", f"{route.name}:ip:{client_ip}", route.per_ip)

    async def take_subject(self, route: RouteClass, subject: str | None) -> Decision | None:
        if subject is None or route.per_subject is None:
            return None
        return await self._take("subject", f"{route.name}:sub:{subject}", route.per_subject)

    async def _take(self, policy: str, key: str, bucket: Bucket) -> Decision | None:
        try:
            return await self.limiter.take(policy, key, bucket)
        except Exception:
            # A limiter that cannot be reached (Redis down) must not take the API down.
            logger.warning("rate limiter unavailable; request let through", exc_info=True)
            return None

    def limit_headers(
        self, route: RouteClass, taken: list[Decision | None]
    ) -> list[tuple[bytes, bytes]]:
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

    async def _forward(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        upstream: Upstream,
        exchange: Exchange,
        forward: list[tuple[bytes, bytes]],
        extra: list[tuple[bytes, bytes]],
        *,
        content_length: int,
        chunked: bool,
        retryable: bool,
    ) -> None:
        route = exchange.route
        assert route is not None
        loop = asyncio.get_running_loop()
        now = time.monotonic()
        breaker = upstream.breaker
        if not breaker.allow(now):
            raise CircuitOpen(headers={"Retry-After": str(breaker.retry_after_s(now))})
        probe = breaker.state is BreakerState.HALF_OPEN

        has_body = chunked or content_length > 0
        body: bytes | None = b"" if not has_body else None
        if has_body and retryable and 0 < content_length <= _BUFFER_FOR_RETRY:
            body = await _read_body(receive, route.max_body_bytes)
        if body is not None and chunked:
            chunked = False
            forward = [*forward, (b"content-length", str(len(body)).encode())]
        elif chunked:
            forward = [*forward, (b"transfer-encoding", b"chunked")]
        replayable = body is not None

        target = scope.get("raw_path") or scope["path"].encode()
        query: bytes = scope.get("query_string", b"")
        if query:
            target = target + b"?" + query
        deadline = loop.time() + route.timeout_s
        attempts = 1 + route.retries
        connection: Connection | None = None
        failed: Replica | None = None
        outcome: UpstreamError | None = None
        try:
            for attempt in range(attempts):
                if attempt:
                    pause = min(self._backoff_cap_s, self._backoff_s * 2**attempt) * random.random()
                    if loop.time() + pause >= deadline:
                        break
                    await asyncio.sleep(pause)
                replica = upstream.choose(time.monotonic(), exclude=failed)
                head = b"".join(
                    [
                        exchange.method.encode(),
                        b" ",
                        target,
                        b" HTTP/1.1\r\nhost: ",
                        replica.host.encode(),
                        b":",
                        str(replica.port).encode(),
                        b"\r\n",
                        *[n + b": " + v + b"\r\n" for n, v in forward],
                        b"\r\n",
                    ]
                )
                try:
                    try:
                        connection = await self._exchange(
                            replica, loop, head, body, receive, exchange, deadline, chunked
                        )
                    except UpstreamError as exc:
                        if self._metrics is not None:
                            self._metrics.failed(upstream.name, type(exc).__name__)
                        raise
                    outcome = None
                    break
                except ConnectFailed as exc:
                    # Nothing reached the service: safe to try another replica, any method.
                    replica.eject(time.monotonic())
                    failed, outcome = replica, exc
                except RequestNotSent as exc:
                    failed, outcome = replica, exc
                    if not (retryable and replayable):
                        break
                except DeadlineExceeded as exc:
                    outcome = exc
                    break
                except ResponseFailed as exc:
                    replica.eject(time.monotonic())
                    failed, outcome = replica, exc
                    if not (retryable and replayable):
                        break
                if loop.time() >= deadline:
                    break
        except (BodyTooLarge, ClientGone):
            if probe:
                breaker.release_probe()
            raise

        if connection is None:
            breaker.failed(time.monotonic())
            logger.warning(
                "upstream failed",
                extra={"upstream": upstream.name, "error": type(outcome).__name__},
            )
            if isinstance(outcome, DeadlineExceeded):
                raise UpstreamTimeout()
            if isinstance(outcome, ResponseFailed):
                raise UpstreamBroken()
            raise UpstreamUnavailable(headers={"Retry-After": "1"})
        if connection.status in (502, 503, 504):
            breaker.failed(time.monotonic())
        else:
            breaker.succeeded()
        await self._respond(receive, send, exchange, connection, extra, route.timeout_s)

    async def _exchange(
        self,
        replica: Replica,
        loop: asyncio.AbstractEventLoop,
        head: bytes,
        body: bytes | None,
        receive: Receive,
        exchange: Exchange,
        deadline: float,
        chunked: bool,
    ) -> Connection:
        """One attempt: connect (or reuse), send, wait for the response head."""
        pool = replica.pool(loop, self._connect_timeout_s)
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise DeadlineExceeded("deadline passed before connecting")
        pool.connect_timeout_s = min(self._connect_timeout_s, remaining)
        connection = await pool.acquire()
        try:
            if body is not None:
                connection.start(head + body, head_only=exchange.method == "HEAD")
            else:
                connection.start(head, head_only=exchange.method == "HEAD")
                assert exchange.route is not None
                try:
                    await _stream_body(connection, receive, exchange.route, chunked)
                except UpstreamError:
                    # The service may have answered early (e.g. 413) and closed: use its answer.
                    if not connection.head_received:
                        raise
            connection.arm_deadline(deadline)
            await connection.response_head()
        except BaseException:
            connection.close()
            raise
        return connection

    async def _respond(
        self,
        receive: Receive,
        send: Send,
        exchange: Exchange,
        connection: Connection,
        extra: list[tuple[bytes, bytes]],
        route_timeout_s: float,
    ) -> None:
        headers = [h for h in connection.headers if h[0] not in _RESPONSE_DROP]
        headers.extend(extra)
        start = {"type": "http.response.start", "status": connection.status, "headers": headers}
        length = connection.content_length
        if not connection.complete and length is not None and length <= _SMALL_BODY:
            # A small body is nearly always right behind the head: wait for it (under a fresh
            # deadline), then answer in one go. Until now the client has seen nothing, so a
            # service that breaks off here still gets a clean 502/504.
            connection.arm_deadline(asyncio.get_running_loop().time() + route_timeout_s)
            try:
                await connection.until_complete()
            except DeadlineExceeded:
                connection.close()
                raise UpstreamTimeout() from None
            except UpstreamError:
                connection.close()
                raise UpstreamBroken() from None
        exchange.status = connection.status
        if connection.complete:
            body = connection.take_buffered()
            connection.finish()
            await send(start)
            await send({"type": "http.response.body", "body": body})
            return
        # A large or open-ended body is streamed. No deadline while it flows (a download may
        # take long); a client that goes away ends the upstream connection too.
        connection.disarm_deadline()
        watcher = asyncio.ensure_future(_watch_disconnect(receive, connection))
        try:
            await send(start)
            try:
                async for chunk in connection.body():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            except UpstreamError:
                if watcher.done():
                    raise ClientGone() from None
                # Too late for a status: end the client's connection so it sees a cut body.
                logger.warning("upstream broke off a response body")
                raise
            await send({"type": "http.response.body", "body": b""})
        finally:
            watcher.cancel()
            connection.finish()

    async def _problem(
        self,
        send: Send,
        exchange: Exchange,
        problem: Problem,
        extra: list[tuple[bytes, bytes]],
    ) -> None:
        exchange.status = problem.status
        document: dict[str, Any] = {
            "type": problem_type(problem.type_slug),
            "title": problem.title,
            "status": problem.status,
        }
        if problem.detail:
            document["detail"] = problem.detail
        document["instance"] = exchange.path
        document["request_id"] = exchange.request_id.decode()
        document.update(problem.extensions)
        body = json.dumps(document).encode()
        headers = [
            (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
            (b"content-length", str(len(body)).encode()),
            *[(k.lower().encode(), v.encode()) for k, v in problem.headers.items()],
            *extra,
        ]
        await send({"type": "http.response.start", "status": problem.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def _watch_disconnect(receive: Receive, connection: Connection) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            connection.close()
            return


def _has_dot_segment(path: str) -> bool:
    return any(segment in (".", "..") for segment in path.split("/"))


def _prefix_pattern(prefixes: tuple[str, ...]) -> re.Pattern[str] | None:
    if not prefixes:
        return None
    parts = [re.escape(prefix).replace(r"\*", "[^/]+") for prefix in prefixes]
    return re.compile("|".join(parts))


async def _body_chunks(receive: Receive, limit: int) -> AsyncIterator[bytes]:
    """The request body as it arrives, cut off at ``limit`` bytes."""
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"The body may have at most {limit} bytes.")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


async def _read_body(receive: Receive, limit: int) -> bytes:
    return b"".join([chunk async for chunk in _body_chunks(receive, limit)])


async def _stream_body(
    connection: Connection, receive: Receive, route: RouteClass, chunked: bool
) -> None:
    async for chunk in _body_chunks(receive, route.max_body_bytes):
        if chunked:
            connection.write(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        else:
            connection.write(chunk)
        await connection.drain(route.timeout_s)
    if chunked:
        connection.write(_CHUNK_END)
