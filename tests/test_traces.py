"""One request through the gateway is one trace, told by every service it crossed.

The system runs as in production (tests/live_rathaus.py), each service exporting its spans
over OTLP/HTTP to a receiver this test runs (servicekit.testing.otlp), as a collector would.
The servers share this process (each a uvicorn server in a thread), so what makes them
separate reporters is what the test checks: each service has its own tracer provider and
exporter, whose resource names it (``service.name``), and the spans of one trace arrive from
four such resources, linked parent to child across the HTTP calls between them.

The request: a citizen hands in a document. The gateway forwards it to documents, which
fetches identity's keys to check the token (its first request), asks booking for the booking's
checklist (service -> service), stores the document (database) and writes the event
``document.uploaded`` to its outbox; the event's delivery to its subscriber (booking's
webhook, here) continues the same trace.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from servicekit.db import create_engine
from servicekit.testing.live import free_port
from servicekit.testing.otlp import OtlpReceiver, ReceivedSpan
from servicekit.testing.plugin import DatabaseRegistry
from tests.documents_booking.files import pdf
from tests.live_rathaus import CITIZEN, TENANT, System, start_system

UPLOADED = "de.rathaus.documents.document.uploaded"


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    running = OtlpReceiver()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
async def system(
    database_registry: DatabaseRegistry,
    db_backend: str,
    tmp_path: Path,
    receiver: OtlpReceiver,
    capsys: pytest.CaptureFixture[str],
) -> AsyncIterator[System]:
    booking_port = free_port()
    secret = "d" * 32 + os.urandom(8).hex()
    traced = {"otel_exporter_otlp_endpoint": receiver.endpoint}
    running = await start_system(
        database_registry,
        db_backend,
        tmp_path / "blobs",
        ports={"booking": booking_port},
        overrides={
            "identity": traced,
            "booking": {**traced, "events_secrets": {"documents": secret}},
            "documents": {
                **traced,
                "events_dispatch_interval_s": 0.1,
                "events_subscribers": [
                    {
                        "name": "booking",
                        "url": f"http://127.0.0.1:{booking_port}/booking/v1/events",
                        "secret": secret,
                        "types": [UPLOADED],
                    }
                ],
            },
            "gateway": traced,
        },
    )
    capsys.readouterr()  # the seeds print demo credentials
    try:
        yield running
    finally:
        running.stop()


async def _book(gateway: httpx.AsyncClient, citizen: dict[str, str]) -> tuple[str, str]:
    """The citizen books a free slot; (booking id, a checklist item that takes a PDF)."""
    service = (await gateway.get(f"/booking/v1/tenants/{TENANT}/services")).json()["items"][0]
    office = (await gateway.get(f"/booking/v1/tenants/{TENANT}/offices")).json()["items"][0]
    where = {"service_id": service["id"], "office_id": office["id"]}
    month = (date.today() + timedelta(days=10)).strftime("%Y-%m")
    days = await gateway.get(
        f"/booking/v1/tenants/{TENANT}/availability/days", params={**where, "month": month}
    )
    slots = await gateway.get(
        f"/booking/v1/tenants/{TENANT}/availability/slots",
        params={**where, "date": days.json()["days"][0]["date"]},
    )
    held = await gateway.post(
        f"/booking/v1/tenants/{TENANT}/holds",
        json={
            "office_id": office["id"],
            "service_ids": [service["id"]],
            "start": slots.json()["slots"][0]["start"],
        },
        headers=citizen,
    )
    assert held.status_code == 201, held.text
    confirmed = await gateway.post(
        f"/booking/v1/bookings/{held.json()['id']}/confirm",
        json={"name": "Erika Mustermann", "email": CITIZEN["email"]},
        headers=citizen,
    )
    assert confirmed.status_code == 200, confirmed.text
    for item in confirmed.json()["checklist"]:
        types = [f for f in item["accepted_formats"] if "/" in f]
        if not types or "application/pdf" in types:
            return str(held.json()["id"]), str(item["id"])
    raise AssertionError("no checklist item takes a PDF")


async def _delivered(database_url: str) -> None:
    """Until documents' outbox has delivered every event (the dispatcher polls each 0.1 s)."""
    engine = create_engine(database_url)
    try:
        for _ in range(300):
            async with engine.connect() as connection:
                pending = await connection.scalar(
                    text("SELECT count(*) FROM outbox_deliveries WHERE delivered_at IS NULL")
                )
                total = await connection.scalar(text("SELECT count(*) FROM outbox_deliveries"))
            if total and not pending:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"documents' event was not delivered ({pending} of {total} left)")
    finally:
        await engine.dispose()


def _is_sql(span: ReceivedSpan) -> bool:
    return span.kind == "client" and (
        "db.system" in span.attributes or "db.system.name" in span.attributes
    )


def _one(spans: list[ReceivedSpan], **match: str | None) -> ReceivedSpan:
    found = [s for s in spans if all(getattr(s, k) == v for k, v in match.items())]
    assert len(found) == 1, (match, [(s.service, s.kind, s.name) for s in spans])
    return found[0]


async def test_one_upload_is_one_trace_across_gateway_services_databases_and_the_event(
    system: System, receiver: OtlpReceiver
) -> None:
    trace_id, client_span = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    async with httpx.AsyncClient(base_url=system.gateway, timeout=20) as gateway:
        login = await gateway.post("/identity/v1/auth/login", json=CITIZEN)
        citizen = {"Authorization": f"Bearer {login.json()['access_token']}"}
        booking_id, item_id = await _book(gateway, citizen)
        upload = await gateway.post(
            f"/documents/v1/bookings/{booking_id}/items/{item_id}/documents",
            content=pdf(2000),
            headers={
                **citizen,
                "content-type": "application/pdf",
                "traceparent": f"00-{trace_id}-{client_span}-01",
            },
        )
    assert upload.status_code == 201, upload.text
    # The client learns the trace it is part of: its own, continued by the gateway.
    assert upload.headers["traceparent"].split("-")[1] == trace_id
    await _delivered(system.database_urls["documents"])
    system.stop()  # each service's exporter sends what it still holds as the service stops

    spans = receiver.spans(trace_id)
    by_id = {span.span_id: span for span in spans}
    assert {span.service for span in spans} == {"gateway", "documents", "booking", "identity"}
    # Four reporters: each service's spans came with its own resource.
    for service in ("gateway", "documents", "booking", "identity"):
        resources = {tuple(sorted(s.resource.items())) for s in spans if s.service == service}
        assert len(resources) == 1, (service, resources)

    # gateway: a server span continuing the client's, a client span for the call to documents
    edge = _one(spans, service="gateway", kind="server")
    assert edge.parent_span_id == client_span
    assert upload.headers["traceparent"] == f"00-{trace_id}-{edge.span_id}-01"
    forwarded = _one(spans, service="gateway", kind="client")
    assert forwarded.parent_span_id == edge.span_id

    # documents: its server span is the child of the gateway's call, then its database
    upload_route = "POST /documents/v1/bookings/{booking_id}/items/{item_id}/documents"
    served = _one(spans, service="documents", kind="server", name=upload_route)
    assert served.parent_span_id == forwarded.span_id
    stored = [
        s
        for s in spans
        if s.service == "documents" and s.parent_span_id == served.span_id and _is_sql(s)
    ]
    assert any(s.name.startswith("INSERT") for s in stored), [s.name for s in stored]

    # documents -> booking: the checklist call, served by booking in the same trace
    asked = [
        s
        for s in spans
        if s.service == "documents"
        and s.kind == "client"
        and s.parent_span_id == served.span_id
        and s.name == "GET"
        and "/checklist" in s.attributes.get("http.url", s.attributes.get("url.full", ""))
    ]
    assert len(asked) == 1, [(s.name, s.attributes) for s in spans if s.service == "documents"]
    checklist = _one(
        spans,
        service="booking",
        kind="server",
        name="GET /booking/v1/bookings/{booking_id}/checklist",
    )
    assert checklist.parent_span_id == asked[0].span_id
    assert any(
        s.service == "booking" and s.parent_span_id == checklist.span_id and _is_sql(s)
        for s in spans
    ), "booking's database statements are in the trace"

    # the event: its delivery continues the request's trace, and booking's webhook with it
    delivery = _one(spans, service="documents", kind="producer")
    assert delivery.name == f"deliver {UPLOADED}"
    assert delivery.parent_span_id == served.span_id
    posted = _one(spans, service="documents", kind="client", parent_span_id=delivery.span_id)
    received = _one(spans, service="booking", kind="server", name="POST /booking/v1/events")
    assert received.parent_span_id == posted.span_id

    # documents' first token check fetched identity's keys: identity served it in the trace
    keys = _one(spans, service="identity", kind="server", name="GET /identity/v1/jwks")
    fetch = by_id[keys.parent_span_id or ""]
    assert (fetch.service, fetch.kind, fetch.parent_span_id) == (
        "documents",
        "client",
        served.span_id,
    )

    # every span's parent is in the trace, except the client's own span that started it
    assert all(s.parent_span_id in by_id for s in spans if s is not edge), [
        (s.service, s.name) for s in spans if s.parent_span_id not in by_id and s is not edge
    ]
