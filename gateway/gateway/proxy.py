"""The forwarder: an admitted request goes to a replica of its service, the answer comes back.

The request has passed the edge checks (:mod:`gateway.edge`) when :meth:`Proxy.forward` gets
it. Here: the circuit breaker, the choice of replica, retries inside the route's deadline when
they are safe, the body streamed (or buffered, when small and replayable) with
:mod:`gateway.http1`, and the answer streamed back. Failures are raised as the gateway's
problems (502, 503, 504) for the ASGI entry to answer.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator

from starlette.types import Receive, Scope, Send

from gateway.edge import REPLACED_BY_EDGE
from gateway.errors import (
    BodyTooLarge,
    CircuitOpen,
    UpstreamBroken,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from gateway.exchange import Exchange
from gateway.http1 import (
    ConnectFailed,
    Connection,
    DeadlineExceeded,
    RequestNotSent,
    ResponseFailed,
    UpstreamError,
)
from gateway.metrics import ProxyMetrics
from gateway.settings import GatewaySettings, RouteClass
from gateway.upstreams import BreakerState, Replica, Upstream

logger = logging.getLogger("gateway.proxy")

# RFC 9110 section 7.6.1: connection-specific fields; plus the ones the gateway sets itself.
_RESPONSE_DROP = (
    frozenset(
        {
            b"connection",
            b"keep-alive",
            b"transfer-encoding",
            b"trailer",
            b"upgrade",
            b"proxy-authenticate",
            b"date",
            b"server",
        }
    )
    | REPLACED_BY_EDGE
)
_BUFFER_FOR_RETRY = 64 * 1024
_SMALL_BODY = 64 * 1024
_CHUNK_END = b"0\r\n\r\n"


class ClientGone(Exception):
    """The client disconnected while its request was on its way."""


class Proxy:
    """Forwards requests to the services' replicas; nothing else."""

    def __init__(self, settings: GatewaySettings, *, metrics: ProxyMetrics | None = None) -> None:
        self._metrics = metrics
        self._connect_timeout_s = settings.connect_timeout_s
        self._backoff_s = settings.retry_backoff_s
        self._backoff_cap_s = settings.retry_backoff_cap_s

    async def forward(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        upstream: Upstream,
        exchange: Exchange,
        answer_headers: list[tuple[bytes, bytes]],
    ) -> None:
        """Sends the request on and streams the answer back, with ``answer_headers`` added."""
        route = exchange.route
        assert route is not None
        forward = _with_forwarding_headers(scope, exchange)
        chunked = exchange.chunked
        content_length = exchange.content_length
        retryable = exchange.retryable
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
                        connection = await self._attempt(
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
        await self._respond(receive, send, exchange, connection, answer_headers, route.timeout_s)

    async def _attempt(
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
        answer_headers: list[tuple[bytes, bytes]],
        route_timeout_s: float,
    ) -> None:
        headers = [h for h in connection.headers if h[0] not in _RESPONSE_DROP]
        headers.extend(answer_headers)
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


def _with_forwarding_headers(scope: Scope, exchange: Exchange) -> list[tuple[bytes, bytes]]:
    """The request's headers with the ones the gateway sets for the service."""
    forward = exchange.headers
    forward.append((b"x-request-id", exchange.request_id))
    forward.append((b"traceparent", exchange.traceparent))
    # Only the client's address as the edge determined it: the service believes this header
    # from the gateway alone (its ``trusted_proxies``) and takes its last entry.
    forward.append((b"x-forwarded-for", exchange.client_ip.encode("latin-1")))
    forward.append((b"x-forwarded-proto", scope.get("scheme", "http").encode()))
    if exchange.host is not None:
        forward.append((b"x-forwarded-host", exchange.host))
    return forward


async def _watch_disconnect(receive: Receive, connection: Connection) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            connection.close()
            return


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
