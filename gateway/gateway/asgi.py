"""The gateway's ASGI entry: where each request goes, read top to bottom.

``/<service>/...`` of a configured service (and ``/.well-known/...``, identity's discovery at
the root) never enters FastAPI's routing or middleware:

- an HTTP request is read once (:mod:`gateway.exchange`), passes the edge checks once
  (:mod:`gateway.edge`: path, CORS, route class, rate limits, token) and is forwarded to a
  replica (:mod:`gateway.proxy`); any problem on the way is answered here as problem+json;
- a WebSocket upgrade passes the same edge checks and is relayed (:mod:`gateway.websocket`).

``/readyz`` is answered here (:mod:`gateway.readiness`: 503 while a route class has no ready
service). Everything else (``/livez``,
``/openapi.json``, ``/docs``, ``/metrics``, the lifespan) is the FastAPI app's, its answers
with the edge's security and CORS headers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from opentelemetry.trace import Tracer
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.edge import Edge
from gateway.errors import send_problem
from gateway.exchange import ClientAddresses, Exchange, read_exchange
from gateway.metrics import ProxyMetrics
from gateway.proxy import ClientGone, Proxy
from gateway.ratelimit import Limiter
from gateway.readiness import answer_readiness, route_services
from gateway.settings import GatewaySettings
from gateway.spans import EdgeSpans
from gateway.upstreams import Upstream, Upstreams
from gateway.websocket import refuse, relay, upgrade_headers
from servicekit.problems import Problem
from servicekit.requestid import request_id_var
from servicekit.tracing import traceparent_var

logger = logging.getLogger("gateway.proxy")
access_logger = logging.getLogger("gateway.access")


class Gateway:
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
        tracer: Tracer | None = None,
    ) -> None:
        self.app = app
        # None with tracing off: the proxy path then makes no span at all.
        self._spans = EdgeSpans(tracer) if tracer is not None else None
        self.upstreams = upstreams
        self.edge = Edge(settings, limiter=limiter, verifier=verifier)
        self.proxy = Proxy(settings, metrics=metrics)
        self._metrics = metrics
        self._readiness_timeout_s = settings.readiness_timeout_s
        self._route_services = route_services(settings.route_classes, upstreams.by_name)
        self._access_log = settings.access_log
        self._well_known = settings.well_known_service
        self._addresses = ClientAddresses(
            settings.trusted_proxies,
            settings.forwarded_header,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        upstream = None
        if kind == "http" or kind == "websocket":
            path: str = scope["path"]
            end = path.find("/", 1)
            name = path[1:end] if end > 0 else path[1:]
            if name == ".well-known" and self._well_known is not None:
                name = self._well_known
            upstream = self.upstreams.by_name.get(name)
        if upstream is None:
            await self._serve_own(scope, receive, send)
        elif kind == "http":
            await self._forward(scope, receive, send, upstream)
        else:
            await self._relay(scope, receive, send, upstream)

    async def _forward(
        self, scope: Scope, receive: Receive, send: Send, upstream: Upstream
    ) -> None:
        exchange = read_exchange(scope, addresses=self._addresses)
        spans = self._spans
        server = call = None
        if spans is not None:
            server = spans.enter(exchange, upstream.name)
        headers = self.edge.answer_headers(exchange)
        context = request_id_var.set(exchange.request_id.decode())
        trace_context = traceparent_var.set(exchange.traceparent.decode())
        try:
            if exchange.preflight:
                await self.edge.answer_preflight(send, exchange, headers)
            else:
                headers.extend(await self.edge.admit(exchange))
                if spans is not None and server is not None:
                    call = spans.call(exchange, server, upstream.name)
                await self.proxy.forward(scope, receive, send, upstream, exchange, headers)
        except Problem as problem:
            await self._answer_problem(send, exchange, problem, headers)
        except ClientGone:
            exchange.status = 499
        except Exception:
            # The last line of defence, as in the kit's middleware: log it, answer a bare 500
            # problem if nothing was sent yet, otherwise let the server cut the connection.
            logger.exception("unhandled error on the proxy path")
            if exchange.status:
                raise
            await self._answer_problem(send, exchange, Problem(), headers)
        finally:
            self._observe(upstream, exchange)
            if spans is not None:
                spans.leave(exchange, call, server)
            traceparent_var.reset(trace_context)
            request_id_var.reset(context)

    async def _relay(self, scope: Scope, receive: Receive, send: Send, upstream: Upstream) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        headers = upgrade_headers(scope)
        client_ip = self._addresses.resolve(scope)
        try:
            route = await self.edge.admit_upgrade(scope["path"], headers, client_ip)
        except Problem as problem:
            await refuse(send, problem)
            return
        await relay(scope, receive, send, upstream, route, headers, client_ip)

    async def _serve_own(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            # The lifespan, and WebSockets for no service.
            await self.app(scope, receive, send)
        elif scope["path"] == "/readyz" and scope["method"] in ("GET", "HEAD"):
            await answer_readiness(
                scope,
                send,
                self.upstreams,
                routes=self._route_services,
                timeout_s=self._readiness_timeout_s,
                security=self.edge.security,
            )
        else:
            await self.app(scope, receive, self.edge.with_edge_headers(scope, send))

    async def _answer_problem(
        self,
        send: Send,
        exchange: Exchange,
        problem: Problem,
        headers: list[tuple[bytes, bytes]],
    ) -> None:
        exchange.status = problem.status
        await send_problem(
            send, problem, instance=exchange.path, request_id=exchange.request_id, headers=headers
        )

    def _observe(self, upstream: Upstream, exchange: Exchange) -> None:
        """The request's metrics and its access log line."""
        route = exchange.route.name if exchange.route else "<none>"
        if self._metrics is not None:
            self._metrics.observe(
                upstream.name, route, exchange.status, time.perf_counter() - exchange.started
            )
        if self._access_log and access_logger.isEnabledFor(logging.INFO):
            access_logger.info(
                "request",
                extra={
                    "method": exchange.method,
                    "route": route,
                    "upstream": upstream.name,
                    "status": exchange.status,
                    "duration_ms": round((time.perf_counter() - exchange.started) * 1000, 2),
                },
            )
