"""Prometheus metrics of the proxy path (FastAPI's instrumentation never sees those requests)."""

from __future__ import annotations

from functools import partial

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from gateway.ratelimit import Limiter, LimiterCollector
from gateway.upstreams import BreakerState, Upstream, Upstreams

_BREAKER_VALUE = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


def _breaker_value(upstream: Upstream) -> float:
    return _BREAKER_VALUE[upstream.breaker.state]


class ProxyMetrics:
    def __init__(self, registry: CollectorRegistry, upstreams: Upstreams, limiter: Limiter) -> None:
        registry.register(LimiterCollector(limiter))
        self._requests = Counter(
            "gateway_requests",
            "Requests on the proxy path by service, route class and status",
            ["service", "route", "status"],
            registry=registry,
        )
        self._duration = Histogram(
            "gateway_request_duration_seconds",
            "Time to the end of the answer, by service",
            ["service"],
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self._failures = Counter(
            "gateway_upstream_failures",
            "Failed attempts to reach a service, by kind",
            ["service", "kind"],
            registry=registry,
        )
        breaker = Gauge(
            "gateway_circuit_state",
            "Circuit breaker per service: 0 closed, 1 half-open, 2 open",
            ["service"],
            registry=registry,
        )
        for name, upstream in upstreams.by_name.items():
            breaker.labels(name).set_function(partial(_breaker_value, upstream))
        self._children: dict[tuple[str, str, int], Counter] = {}
        self._histograms: dict[str, Histogram] = {}

    def observe(self, service: str, route: str, status: int, seconds: float) -> None:
        key = (service, route, status)
        counter = self._children.get(key)
        if counter is None:
            counter = self._children[key] = self._requests.labels(service, route, str(status))
        counter.inc()
        histogram = self._histograms.get(service)
        if histogram is None:
            histogram = self._histograms[service] = self._duration.labels(service)
        histogram.observe(seconds)

    def failed(self, service: str, kind: str) -> None:
        self._failures.labels(service, kind).inc()
