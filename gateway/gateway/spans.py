"""The gateway's own spans, when tracing is on (``servicekit.tracing``).

A proxied request gets a server span (the client's trace continued, or a new one) and, once
the edge has admitted it, inside it a client span for the call to the service, whose context
the service gets as its ``traceparent``. Neither carries the path (it may carry tokens or
personal data, as the access log's route class does not): the method, the upstream, the route
class and the status. With tracing off the ASGI entry has no :class:`EdgeSpans` and makes
none.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from gateway.exchange import Exchange
from servicekit.tracing import format_traceparent, remote_parent


class EdgeSpans:
    """The gateway's spans of one proxied request, from the service's tracer (tracing on)."""

    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer

    def enter(self, exchange: Exchange, upstream: str) -> Span:
        """The server span of ``exchange``; the client gets its context as ``traceparent``."""
        incoming = exchange.incoming_traceparent
        parent = remote_parent(incoming.decode("latin-1").strip().lower() if incoming else None)
        span = self._tracer.start_span(
            f"{exchange.method} {upstream}",
            context=parent,
            kind=SpanKind.SERVER,
            attributes={"http.request.method": exchange.method, "rathaus.upstream": upstream},
        )
        exchange.traceparent = format_traceparent(span.get_span_context()).encode()
        return span

    def call(self, exchange: Exchange, server: Span, upstream: str) -> Span:
        """The client span of the call to the service, in ``server``; the service gets its
        context as ``traceparent``."""
        span = self._tracer.start_span(
            f"{exchange.method} {upstream}",
            context=trace.set_span_in_context(server),
            kind=SpanKind.CLIENT,
            attributes={"http.request.method": exchange.method, "rathaus.upstream": upstream},
        )
        exchange.traceparent = format_traceparent(span.get_span_context()).encode()
        return span

    @staticmethod
    def leave(exchange: Exchange, *spans: Span | None) -> None:
        """End the spans (innermost first) with the request's outcome."""
        status = exchange.status
        route = exchange.route.name if exchange.route else None
        for span in spans:
            if span is None:
                continue
            if not span.is_recording():  # sampled out: nothing to record
                span.end()
                continue
            if status:
                span.set_attribute("http.response.status_code", status)
            if route:
                span.set_attribute("rathaus.route_class", route)
            if status >= 500 or not status:
                span.set_status(Status(StatusCode.ERROR))
            span.end()
