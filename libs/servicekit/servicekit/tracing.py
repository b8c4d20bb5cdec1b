"""Traces across the services (docs/architecture.md#observability), set up in one place.

:meth:`Tracing.of` reads a service's ``OTEL_*`` settings (:class:`~servicekit.settings.
ServiceSettings`) and gives it its own tracer provider, with its own ``service.name``, or
nothing at all: tracing is off unless an exporter or an OTLP endpoint is configured, and off
costs no SDK, no instrumentation and no span. :func:`servicekit.app.create_service_app` uses
it for every service: the FastAPI app (a server span per request, continuing the caller's W3C
``traceparent``), the database engine (a span per statement), the httpx clients a service
hands it (a client span per call, its ``traceparent`` sent on) and the event deliveries
(:mod:`servicekit.events.dispatch`: the trace that wrote an event goes on when it is
delivered). A provider per app, not the process-wide one, so that services sharing a process
(the live tests) still report as themselves.

Whatever the settings, the trace context of the request being served is known
(:func:`current_traceparent`: the current span's, or the one the caller sent, kept in
:data:`traceparent_var`), so every log line carries its trace id
(:func:`current_trace_id`, :mod:`servicekit.logs`) and the outbox stores it with each event.

Only spans that enter a service (server, producer, consumer) may start a trace: a database
statement or a call outside any request (the outbox's polls, readiness probes, key refreshes)
makes no trace of its own.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import httpx
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import (
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    TraceFlags,
    Tracer,
)
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.sdk.trace import TracerProvider

    from servicekit.settings import ServiceSettings

logger = logging.getLogger(__name__)

TRACEPARENT_HEADER = "traceparent"
_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16
UNTRACED_PATHS = ("/livez", "/readyz", "/metrics")
"""Probes and scrapes: no server span (they would drown the traces worth reading)."""

traceparent_var: ContextVar[str | None] = ContextVar("traceparent", default=None)
"""The W3C ``traceparent`` of the request being served, as its caller sent it (set by the
kit's request middleware and by the gateway), for when no span of ours is current."""


def valid_traceparent(value: str | None) -> str | None:
    """``value`` if it is a well-formed version-00 ``traceparent`` (lower case), else None."""
    if value is None:
        return None
    match = _TRACEPARENT.match(value)
    if match is None or match.group(1) == _ZERO_TRACE or match.group(2) == _ZERO_SPAN:
        return None
    return value


def format_traceparent(context: SpanContext) -> str:
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def current_traceparent() -> str | None:
    """The trace context to pass on: the current span's, else the caller's (None outside
    any request)."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        return format_traceparent(context)
    return traceparent_var.get()


def current_trace_id() -> str | None:
    """The trace id of the request being served, as 32 hex digits (None outside any)."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        return f"{context.trace_id:032x}"
    parent = traceparent_var.get()
    return parent[3:35] if parent else None


def remote_parent(traceparent: str | None) -> Context:
    """A context whose parent is the span ``traceparent`` names (a fresh one without it: a new
    trace, which is also what an invalid value gets)."""
    valid = valid_traceparent(traceparent)
    if valid is None:
        return Context()
    parent = SpanContext(
        trace_id=int(valid[3:35], 16),
        span_id=int(valid[36:52], 16),
        is_remote=True,
        trace_flags=TraceFlags(int(valid[53:55], 16)),
    )
    return trace.set_span_in_context(NonRecordingSpan(parent), Context())


class Tracing:
    """A service's tracer provider, or none (tracing off: every method is a no-op)."""

    def __init__(self, provider: TracerProvider | None = None) -> None:
        self.provider = provider

    @classmethod
    def of(cls, settings: ServiceSettings) -> Tracing:
        """The service's tracing as its settings configure it (off by default)."""
        exporters = settings.traces_exporters()
        if not exporters:
            return cls()
        from servicekit.tracing_provider import tracer_provider

        return cls(tracer_provider(settings, exporters))

    @property
    def enabled(self) -> bool:
        return self.provider is not None

    def tracer(self, name: str) -> Tracer | None:
        return None if self.provider is None else self.provider.get_tracer(name)

    def instrument_app(self, app: FastAPI) -> None:
        """A server span per request (except the probes), the caller's trace continued."""
        if self.provider is None:
            return
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(
            app,
            tracer_provider=self.provider,
            server_request_hook=_server_span_without_query,
            excluded_urls=",".join(f"{path}$" for path in UNTRACED_PATHS),
            # The ASGI send/receive of each message would be two more spans per request.
            exclude_spans=["receive", "send"],
        )
        # The instrumentor also wraps Starlette's BackgroundTask, process-wide, with the first
        # app's tracer: in a process serving several apps (the live tests) their background
        # tasks would report as that app. Unwrapped, a background task's statements are
        # still spans of the request that started it.
        from starlette.background import BackgroundTask

        original = BackgroundTask.__dict__.get("_otel_original_call")
        if original is not None:
            BackgroundTask.__call__ = original  # type: ignore[method-assign]
            del BackgroundTask._otel_original_call  # type: ignore[attr-defined]

    def instrument_engine(self, engine: AsyncEngine) -> None:
        """A client span per SQL statement on ``engine`` (its text, never its parameters)."""
        if self.provider is None:
            return
        # The engine's own tracer: the instrumentor itself patches create_engine process-wide
        # with one provider, and declares SQLAlchemy < 2.1 (2.1 keeps the events it listens to).
        from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
        from opentelemetry.instrumentation.sqlalchemy.version import __version__ as version
        from opentelemetry.metrics import NoOpMeterProvider

        tracer = self.provider.get_tracer("opentelemetry.instrumentation.sqlalchemy", version)
        connections = NoOpMeterProvider().get_meter(__name__).create_up_down_counter("db")
        EngineTracer(tracer, engine.sync_engine, connections)  # type: ignore[no-untyped-call]

    def instrument_client(self, client: httpx.AsyncClient) -> httpx.AsyncClient:
        """``client``, with a client span per request and its ``traceparent`` sent on."""
        if self.provider is not None:
            from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

            HTTPXClientInstrumentor.instrument_client(
                client, tracer_provider=self.provider, request_hook=_client_span_without_query
            )
        return client

    @contextmanager
    def continued_span(
        self,
        name: str,
        traceparent: str | None,
        *,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Mapping[str, str | int] | None = None,
    ) -> Iterator[None]:
        """A current span ``name`` in the trace ``traceparent`` names, as a child of the span
        it names (a new trace without one); nothing when off."""
        if self.provider is None:
            yield
            return
        tracer = self.provider.get_tracer(__name__)
        with tracer.start_as_current_span(
            name, context=remote_parent(traceparent), kind=kind, attributes=attributes
        ):
            yield

    async def shutdown(self) -> None:
        """Send what is still buffered and stop (when the app stops)."""
        if self.provider is not None:
            await asyncio.to_thread(self.provider.shutdown)


# A query string may carry what a trace must not: a mailed link's token, a file's name. The
# instrumentations record the URL with it; these hooks, run as each span starts, keep the path.
_URL_ATTRIBUTES = ("http.url", "url.full")


def _server_span_without_query(span: Span, scope: dict[str, Any]) -> None:
    if span.is_recording() and scope.get("query_string"):
        _drop_query(span)
        span.set_attribute("http.target", str(scope.get("path", "")))


def _client_span_without_query(span: Span, request: Any) -> None:
    if span.is_recording():
        _drop_query(span)


def _drop_query(span: Span) -> None:
    attributes = getattr(span, "attributes", None) or {}
    for key in _URL_ATTRIBUTES:
        url = attributes.get(key)
        if isinstance(url, str) and "?" in url:
            span.set_attribute(key, url.split("?", 1)[0])
    if "url.query" in attributes:
        span.set_attribute("url.query", "")
