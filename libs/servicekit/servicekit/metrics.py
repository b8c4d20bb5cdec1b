"""Prometheus /metrics: request count and latency per route template."""

from __future__ import annotations

from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from prometheus_fastapi_instrumentator import Instrumentator


def install_metrics(app: FastAPI) -> CollectorRegistry:
    # One registry per app, so that tests can build many apps in one process.
    registry = CollectorRegistry()
    Instrumentator(
        registry=registry,
        should_group_status_codes=False,
        should_ignore_untemplated=True,
        excluded_handlers=["/metrics", "/livez", "/readyz"],
    ).instrument(app).expose(app, endpoint="/metrics", include_in_schema=False)
    return registry
