"""Prometheus /metrics: request count and latency per route template.

The request-id middleware records each request once, when it has finished, with the route
template it resolves for its access log anyway (``scope["route"]``, set by the router). A
second middleware that matched every request against every route again cost about a tenth
of a small request's time.
"""

from __future__ import annotations

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest

UNRECORDED = frozenset({"/metrics", "/livez", "/readyz"})
"""Probes and scrapes: frequent, uninteresting, and they would drown the real routes."""


class RequestMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._requests = Counter(
            "http_requests",
            "Requests by method, route template and status",
            ["method", "handler", "status"],
            registry=registry,
        )
        self._duration = Histogram(
            "http_request_duration_seconds",
            "Time to the end of the answer, by method and route template",
            ["method", "handler"],
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )

    def observe(self, method: str, handler: str | None, status: int, seconds: float) -> None:
        """One finished request; requests that matched no route are not recorded."""
        if handler is None or handler in UNRECORDED:
            return
        self._requests.labels(method, handler, str(status)).inc()
        self._duration.labels(method, handler).observe(seconds)


def install_metrics(app: FastAPI) -> RequestMetrics:
    # One registry per app, so that tests can build many apps in one process.
    registry = CollectorRegistry()
    # Kept so that an app can add its own metrics to what /metrics exposes.
    app.state.metrics_registry = registry

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return RequestMetrics(registry)
