"""The SDK side of :mod:`servicekit.tracing`: a service's tracer provider, its exporters and
its sampler, from its ``OTEL_*`` settings. Imported only when tracing is on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider, sampling
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
)
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import SpanKind

from servicekit.settings import ServiceSettings


def tracer_provider(settings: ServiceSettings, exporters: frozenset[str]) -> TracerProvider:
    """The service's own provider: its resource (``service.name`` and the configured
    attributes), its sampler, and a processor per exporter (OTLP in batches, off the event
    loop; the console at once)."""
    attributes: dict[str, Any] = _pairs(settings.otel_resource_attributes)
    attributes["service.name"] = settings.otel_service_name or settings.service_name
    attributes.setdefault("deployment.environment.name", settings.environment.value)
    provider = TracerProvider(resource=Resource(attributes), sampler=sampler_of(settings))
    if "otlp" in exporters:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        headers = settings.otel_exporter_otlp_headers
        provider.add_span_processor(
            BatchSpanProcessor(
                OTLPSpanExporter(
                    endpoint=traces_endpoint(settings),
                    headers=_pairs(headers.get_secret_value() if headers else None),
                    timeout=settings.otel_exporter_otlp_timeout / 1000,
                )
            )
        )
    if "console" in exporters:
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    return provider


def traces_endpoint(settings: ServiceSettings) -> str:
    """Where OTLP spans are posted: the traces endpoint as it is, else the general one's
    ``/v1/traces`` (as the OpenTelemetry specification says), else a local collector."""
    if settings.otel_exporter_otlp_traces_endpoint:
        return settings.otel_exporter_otlp_traces_endpoint
    base = settings.otel_exporter_otlp_endpoint or "http://localhost:4318"
    return base.rstrip("/") + "/v1/traces"


def sampler_of(settings: ServiceSettings) -> Sampler:
    ratio = 1.0 if settings.otel_traces_sampler_arg is None else settings.otel_traces_sampler_arg
    name = settings.otel_traces_sampler
    base = name.removeprefix("parentbased_")
    root: sampling.Sampler
    if base == "always_on":
        root = sampling.ALWAYS_ON
    elif base == "always_off":
        root = sampling.ALWAYS_OFF
    else:
        root = sampling.TraceIdRatioBased(ratio)
    root = EntrySpansOnly(root)
    return sampling.ParentBased(root) if name.startswith("parentbased_") else root


_ENTRY_KINDS = frozenset({SpanKind.SERVER, SpanKind.CONSUMER, SpanKind.PRODUCER})


class EntrySpansOnly(Sampler):
    """Samples as ``root`` does, except that a span without a parent that does not enter the
    service (a statement, a call) is dropped: background work makes no traces of its own."""

    def __init__(self, root: Sampler) -> None:
        self.root = root

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Any = None,
        links: Sequence[Any] | None = None,
        trace_state: Any = None,
    ) -> Any:
        parent = trace.get_current_span(parent_context).get_span_context()
        if not parent.is_valid and kind not in _ENTRY_KINDS:
            return SamplingResult(Decision.DROP)
        return self.root.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"EntrySpansOnly{{{self.root.get_description()}}}"


def _pairs(text: str | None) -> dict[str, str]:
    """``key=value,key2=value2`` (OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS)."""
    pairs: dict[str, str] = {}
    for item in (text or "").split(","):
        key, sep, value = item.partition("=")
        if sep and key.strip():
            pairs[unquote(key.strip())] = unquote(value.strip())
    return pairs
