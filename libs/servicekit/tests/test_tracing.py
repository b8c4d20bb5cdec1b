"""Traces (servicekit.tracing): off by default, OTEL_* settings, spans of a request and its
statements at a real OTLP/HTTP receiver, the trace id in log lines, events that carry their
trace to the subscriber."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from pydantic import SecretStr, ValidationError
from sqlalchemy import MetaData, text
from sqlalchemy.orm import DeclarativeBase

from servicekit.app import create_service_app
from servicekit.db import Database, SessionDep, new_metadata
from servicekit.events import Dispatcher, EventTables, Outbox, Subscriber
from servicekit.logs import configure_logging
from servicekit.settings import Environment, ServiceSettings
from servicekit.testing.live import LiveServer, run_live_server
from servicekit.testing.otlp import OtlpReceiver
from servicekit.tracing import Tracing, traceparent_var
from servicekit.tracing_provider import traces_endpoint

SECRET = "s" * 40
TYPE = "de.rathaus.test.thing.happened"


class Base(DeclarativeBase):
    metadata = new_metadata()


TABLES = EventTables.declare(Base, module=__name__)


@pytest.fixture
def metadata() -> MetaData:
    return Base.metadata


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    running = OtlpReceiver()
    yield running
    running.stop()


def settings(**values: object) -> ServiceSettings:
    return ServiceSettings.model_validate(
        {"service_name": "kit", "environment": Environment.TEST, **values}
    )


def traceparent() -> tuple[str, str, str]:
    """(a traceparent as a caller sends it, its trace id, its span id)."""
    trace_id, span_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    return f"00-{trace_id}-{span_id}-01", trace_id, span_id


def test_tracing_is_off_unless_an_exporter_or_an_endpoint_is_configured() -> None:
    assert not Tracing.of(settings()).enabled
    assert settings(otel_traces_exporter="none").traces_exporters() == frozenset()
    on = settings(otel_exporter_otlp_endpoint="http://collector:4318/")
    assert on.traces_exporters() == {"otlp"}
    assert traces_endpoint(on) == "http://collector:4318/v1/traces"
    exact = settings(otel_exporter_otlp_traces_endpoint="http://collector:4318/spans")
    assert traces_endpoint(exact) == "http://collector:4318/spans"
    assert settings(otel_traces_exporter="otlp, console").traces_exporters() == {
        "otlp",
        "console",
    }
    disabled = settings(otel_sdk_disabled=True, otel_exporter_otlp_endpoint="http://c:4318")
    assert not Tracing.of(disabled).enabled
    with pytest.raises(ValidationError, match="unknown traces exporter"):
        settings(otel_traces_exporter="jaeger")
    with pytest.raises(ValidationError, match="unknown sampler"):
        settings(otel_traces_sampler="sometimes")
    with pytest.raises(ValidationError):
        settings(otel_exporter_otlp_protocol="grpc")


def test_the_standard_variables_are_read_without_the_services_prefix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "booking-eu-1")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.25")
    read = ServiceSettings()
    assert read.traces_exporters() == {"otlp"}
    assert read.otel_service_name == "booking-eu-1"
    assert (read.otel_traces_sampler, read.otel_traces_sampler_arg) == (
        "parentbased_traceidratio",
        0.25,
    )


def make_app(url: str, **values: object) -> FastAPI:
    async def count(session: SessionDep) -> dict[str, int]:
        return {"one": int(await session.scalar(text("SELECT 1")) or 0)}

    app = create_service_app(
        settings(database_url=url, **values),
        title="Kit",
        version="1.0.0",
        description="kit tracing app",
    )
    app.add_api_route("/kit/v1/count", count, methods=["GET"])
    return app


@pytest.fixture
async def traced(tmp_path: Path, receiver: OtlpReceiver) -> AsyncIterator[FastAPI]:
    app = make_app(
        f"sqlite+aiosqlite:///{tmp_path / 'kit.db'}",
        otel_exporter_otlp_endpoint=receiver.endpoint,
    )
    yield app
    await app.state.database.dispose()


async def test_a_request_is_a_server_span_continuing_the_callers_with_its_statements(
    traced: FastAPI, receiver: OtlpReceiver
) -> None:
    sent, trace_id, caller = traceparent()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=traced), base_url="http://kit"
    ) as client:
        asked = await client.get(
            "/kit/v1/count", params={"token": "mailed-link-secret"}, headers={"traceparent": sent}
        )
        assert asked.status_code == 200
        assert (await client.get("/readyz")).status_code == 200
    # A statement outside any request starts no trace of its own.
    async with traced.state.database.engine.connect() as connection:
        await connection.execute(text("SELECT 2"))
    await traced.state.tracing.shutdown()  # what the app's lifespan does when it stops

    spans = receiver.spans()
    assert {span.trace_id for span in spans} == {trace_id}, [s.name for s in spans]
    [server] = [span for span in spans if span.kind == "server"]
    assert (server.name, server.parent_span_id, server.service) == (
        "GET /kit/v1/count",
        caller,
        "kit",
    )
    assert "mailed-link-secret" not in repr(server.attributes)  # no query in a trace
    statements = [span for span in spans if span.kind == "client"]
    assert all(span.parent_span_id == server.span_id for span in statements)
    assert any(
        "SELECT 1" in span.attributes.get("db.statement", span.attributes.get("db.query.text", ""))
        for span in statements
    ), [span.attributes for span in statements]


async def test_every_log_line_of_a_request_carries_its_trace_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app(f"sqlite+aiosqlite:///{tmp_path / 'kit.db'}")  # tracing off
    sent, trace_id, _ = traceparent()
    configure_logging(service="kit", level="INFO", json=True)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://kit"
        ) as client:
            await client.get("/kit/v1/count", headers={"traceparent": sent})
            await client.get("/kit/v1/count", headers={"traceparent": "00-garbage"})
    finally:
        logging.getLogger().handlers.clear()
        await app.state.database.dispose()

    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    access = [line for line in lines if line["logger"] == "servicekit.access"]
    assert [line["trace_id"] for line in access] == [trace_id, None]


@pytest.fixture
def hook() -> Iterator[tuple[list[dict[str, str]], LiveServer]]:
    """A subscriber's webhook: the headers of each delivery."""
    received: list[dict[str, str]] = []
    app = FastAPI()

    @app.post("/hook")
    async def take(request: Request) -> Response:
        received.append(dict(request.headers))
        return Response(status_code=204)

    server = run_live_server(app)
    yield received, server
    server.stop()


def outbox(url: str) -> Outbox:
    return Outbox(
        TABLES.outbox_event,
        TABLES.outbox_delivery,
        source="test",
        subscribers=[Subscriber(name="hook", url=url, secret=SecretStr(SECRET))],
    )


async def emit_in_request(database: Database, box: Outbox, caller: str) -> None:
    """As a request of a service does: its caller's trace context is the current one."""
    token = traceparent_var.set(caller)
    try:
        async with database.sessionmaker() as session:
            box.emit(session, TYPE, {"n": 1})
            await session.commit()
    finally:
        traceparent_var.reset(token)


async def test_an_events_delivery_carries_the_trace_that_wrote_it_tracing_off(
    database: Database, hook: tuple[list[dict[str, str]], LiveServer]
) -> None:
    received, server = hook
    box = outbox(f"{server.url}/hook")
    sent, _, _ = traceparent()
    await emit_in_request(database, box, sent)
    dispatcher = Dispatcher(box, database.sessionmaker)
    try:
        assert await dispatcher.deliver_due() == 1
    finally:
        await dispatcher.aclose()
    assert received[0]["traceparent"] == sent


async def test_an_events_delivery_is_a_span_of_the_trace_that_wrote_it(
    database: Database,
    hook: tuple[list[dict[str, str]], LiveServer],
    receiver: OtlpReceiver,
) -> None:
    received, server = hook
    box = outbox(f"{server.url}/hook")
    sent, trace_id, caller = traceparent()
    await emit_in_request(database, box, sent)
    tracing = Tracing.of(settings(otel_exporter_otlp_endpoint=receiver.endpoint))
    dispatcher = Dispatcher(box, database.sessionmaker, tracing=tracing)
    try:
        assert await dispatcher.deliver_due() == 1
    finally:
        await dispatcher.aclose()
        await tracing.shutdown()

    spans = receiver.spans()
    [delivery] = [span for span in spans if span.kind == "producer"]
    assert (delivery.name, delivery.trace_id, delivery.parent_span_id) == (
        f"deliver {TYPE}",
        trace_id,
        caller,
    )
    [post] = [span for span in spans if span.kind == "client"]
    assert post.parent_span_id == delivery.span_id
    # The subscriber continues the trace from the delivery's call.
    assert received[0]["traceparent"].split("-")[1:3] == [trace_id, post.span_id]
    # The dispatcher's own claims and records (statements outside a request) made no spans.
    assert len(spans) == 2, [(span.kind, span.name) for span in spans]
