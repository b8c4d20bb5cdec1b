"""Events: the outbox and its dispatcher against a real webhook server, signatures, the inbox."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from cloudevents.core.v1.event import CloudEvent
from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from sqlalchemy import MetaData, select
from sqlalchemy.orm import DeclarativeBase

from servicekit.db import Database, new_metadata, utcnow
from servicekit.events import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Dispatcher,
    EventReceiver,
    EventTables,
    InvalidEventSignature,
    MalformedEvent,
    Outbox,
    OutboxDeliveryColumns,
    Subscriber,
    first_delivery,
    signed_headers,
    undelivered,
)
from servicekit.problems import install_problem_handlers
from servicekit.testing.clock import ManualClock
from servicekit.testing.live import LiveServer, free_port, run_live_server

SECRET = "s" * 40
TYPE = "de.rathaus.test.thing.happened"


class Base(DeclarativeBase):
    metadata = new_metadata()


TABLES = EventTables.declare(Base, module=__name__)
OutboxEvent, OutboxDelivery = TABLES.outbox_event, TABLES.outbox_delivery


@dataclass
class Hook:
    """A webhook receiver on a real server: checks like a consumer, remembers what it got."""

    received: list[CloudEvent] = field(default_factory=list)
    failures_to_answer: int = 0

    def app(self) -> FastAPI:
        app = FastAPI()
        install_problem_handlers(app)
        receiver = EventReceiver({"test": SecretStr(SECRET)})

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            event = await receiver.receive(request)
            if self.failures_to_answer:
                self.failures_to_answer -= 1
                return Response(status_code=500)
            self.received.append(event)
            return Response(status_code=204)

        return app


@pytest.fixture
def hook() -> Iterator[tuple[Hook, LiveServer]]:
    receiver = Hook()
    server = run_live_server(receiver.app())
    yield receiver, server
    server.stop()


@pytest.fixture
def metadata() -> MetaData:
    return Base.metadata


def outbox(url: str, **subscriber: Any) -> Outbox:
    return Outbox(
        OutboxEvent,
        OutboxDelivery,
        source="test",
        subscribers=[Subscriber(name="hook", url=url, secret=SecretStr(SECRET), **subscriber)],
    )


async def emit(database: Database, box: Outbox, count: int = 1, *, commit: bool = True) -> None:
    async with database.sessionmaker() as session:
        for number in range(count):
            box.emit(
                session, TYPE, {"number": number}, subject=f"thing-{number}", tenant="06999001"
            )
        if commit:
            await session.commit()


async def deliveries(database: Database) -> list[OutboxDeliveryColumns]:
    async with database.sessionmaker() as session:
        return list(await session.scalars(select(OutboxDelivery).order_by(OutboxDelivery.id)))


async def test_an_event_committed_with_its_change_is_delivered_once_signed(
    database: Database, hook: tuple[Hook, LiveServer]
) -> None:
    receiver, server = hook
    box = outbox(f"{server.url}/hook")
    await emit(database, box)
    await emit(database, box, commit=False)  # rolled back with its change: never sent
    registry = CollectorRegistry()
    dispatcher = Dispatcher(box, database.sessionmaker, registry=registry)
    try:
        first = await dispatcher.deliver_due()
        again = await dispatcher.deliver_due()
    finally:
        await dispatcher.aclose()

    assert (first, again) == (1, 0)
    attempts = {"subscriber": "hook", "outcome": "delivered"}
    assert registry.get_sample_value("events_delivery_attempts_total", attempts) == 1
    [event] = receiver.received
    assert (event.get_type(), event.get_source(), event.get_subject()) == (TYPE, "test", "thing-0")
    assert event.get_extension("tenant") == "06999001"
    assert event.get_data() == {"number": 0}
    [delivery] = await deliveries(database)
    assert delivery.delivered_at is not None
    assert delivery.attempts == 1


async def test_a_subscriber_gets_only_the_types_it_wants_and_unwanted_events_are_not_kept(
    database: Database, hook: tuple[Hook, LiveServer]
) -> None:
    _, server = hook
    box = outbox(f"{server.url}/hook", types=frozenset({"de.rathaus.other"}))
    await emit(database, box)

    assert (box.wanted(TYPE), box.wanted("de.rathaus.other")) == (False, True)

    assert await deliveries(database) == []
    async with database.sessionmaker() as session:
        assert list(await session.scalars(select(OutboxEvent))) == []


async def test_an_unreachable_or_failing_subscriber_is_tried_again_later(
    database: Database, hook: tuple[Hook, LiveServer]
) -> None:
    receiver, server = hook
    down = outbox(f"http://127.0.0.1:{free_port()}/hook")
    await emit(database, down)
    clock = ManualClock()
    dispatcher = Dispatcher(down, database.sessionmaker, clock=clock, pauses_s=(1, 5))
    unreachable = await dispatcher.deliver_due()
    [after_first] = await deliveries(database)
    too_early = await dispatcher.deliver_due()

    up = outbox(f"{server.url}/hook")
    receiver.failures_to_answer = 1
    dispatcher.outbox = up
    clock.now += timedelta(seconds=1)
    failed = await dispatcher.deliver_due()
    [after_second] = await deliveries(database)
    clock.now += timedelta(seconds=5)
    delivered = await dispatcher.deliver_due()
    await dispatcher.aclose()

    assert (unreachable, too_early, failed, delivered) == (0, 0, 0, 1)
    assert after_first.attempts == 1
    assert after_first.last_error == "not reached: ConnectError"
    assert after_first.next_attempt_at == clock.now - timedelta(seconds=6) + timedelta(seconds=1)
    assert after_second.attempts == 2
    assert after_second.last_error == "answered 500"
    assert len(receiver.received) == 1


async def test_delivered_events_are_pruned_after_a_while_and_pending_ones_kept(
    database: Database, hook: tuple[Hook, LiveServer]
) -> None:
    _, server = hook
    dead = Subscriber(
        name="dead",
        url=f"http://127.0.0.1:{free_port()}/hook",
        secret=SecretStr(SECRET),
        types=frozenset({"de.rathaus.unanswered"}),
    )
    box = outbox(f"{server.url}/hook", types=frozenset({TYPE}))
    box.subscribers["dead"] = dead
    await emit(database, box, count=2)
    async with database.sessionmaker() as session:
        box.emit(session, "de.rathaus.unanswered", {"pending": True})  # never delivered
        await session.commit()
    dispatcher = Dispatcher(box, database.sessionmaker)
    await dispatcher.deliver_due()
    now = utcnow()

    too_soon = await dispatcher.prune(now - timedelta(days=7))
    pruned = await dispatcher.prune(now + timedelta(seconds=1))
    await dispatcher.aclose()

    async with database.sessionmaker() as session:
        left = list(await session.scalars(select(OutboxEvent.data)))
    assert (too_soon, pruned) == (0, 2)
    assert left == ['{"pending":true}']
    [pending] = await deliveries(database)
    assert pending.delivered_at is None


async def test_operators_see_what_is_undelivered_and_can_make_it_due_now(
    database: Database,
) -> None:
    down = outbox(f"http://127.0.0.1:{free_port()}/hook")
    before = await undelivered(down, database.sessionmaker)
    await emit(database, down, count=2)
    dispatcher = Dispatcher(down, database.sessionmaker, pauses_s=(3600,))
    await dispatcher.deliver_due()

    report = await undelivered(down, database.sessionmaker, retry=True)
    due = await dispatcher.deliver_due()  # tried again at once (and failing again)
    await dispatcher.aclose()

    assert before == "every event has been delivered"
    assert report.startswith("hook: 2 undelivered, up to 1 attempts, next now")
    assert "last error: not reached: ConnectError" in report
    assert due == 0
    assert {d.attempts for d in await deliveries(database)} == {2}


async def test_dispatchers_of_several_replicas_deliver_each_event_once(
    database: Database, empty_database_url: str, hook: tuple[Hook, LiveServer]
) -> None:
    receiver, server = hook
    box = outbox(f"{server.url}/hook")
    await emit(database, box, count=30)
    replicas = [Database(empty_database_url) for _ in range(3)]
    dispatchers = [Dispatcher(box, replica.sessionmaker, batch=4) for replica in replicas]
    try:
        delivered = await asyncio.gather(*(d.deliver_due() for d in dispatchers))
    finally:
        for dispatcher, replica in zip(dispatchers, replicas, strict=True):
            await dispatcher.aclose()
            await replica.dispose()

    assert sum(delivered) == 30
    numbers = [e.get_data() for e in receiver.received]
    assert sorted(n["number"] for n in numbers if isinstance(n, dict)) == list(range(30))


def signed(body: bytes, *, secret: str = SECRET, at: float | None = None) -> dict[str, str]:
    return signed_headers(secret, body, at=at)


def structured(**attributes: Any) -> bytes:
    document = {
        "specversion": "1.0",
        "id": "e-1",
        "source": "test",
        "type": TYPE,
        "data": {"a": 1},
        **attributes,
    }
    return json.dumps({k: v for k, v in document.items() if v is not None}).encode()


def test_a_signed_event_is_accepted() -> None:
    body = structured()

    event = EventReceiver({"test": SecretStr(SECRET)}).check(signed(body), body)

    assert (event.get_id(), event.get_data()) == ("e-1", {"a": 1})


@pytest.mark.parametrize(
    "forgery",
    ["wrong secret", "altered body", "old", "future", "no signature", "no timestamp", "stranger"],
)
def test_a_forged_or_stale_event_is_refused(forgery: str) -> None:
    body = structured()
    headers = signed(body)
    if forgery == "wrong secret":
        headers = signed(body, secret="x" * 40)
    elif forgery == "altered body":
        body = structured(data={"a": 2})
    elif forgery == "old":
        headers = signed(body, at=time.time() - 301)
    elif forgery == "future":
        headers = signed(body, at=time.time() + 301)
    elif forgery == "no signature":
        del headers[SIGNATURE_HEADER]
    elif forgery == "no timestamp":
        del headers[TIMESTAMP_HEADER]
    elif forgery == "stranger":
        body = structured(source="somebody-else")
        headers = signed(body)

    with pytest.raises(InvalidEventSignature):
        EventReceiver({"test": SecretStr(SECRET)}).check(headers, body)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'["a list"]',
        structured(type=None),
        structured(id=None),
        structured(specversion="0.3"),
        structured(data=[1, 2]),
        structured(data="text"),
    ],
)
def test_a_signed_body_that_is_no_event_is_malformed(body: bytes) -> None:
    receiver = EventReceiver({"test": SecretStr(SECRET)})

    with pytest.raises(MalformedEvent):
        receiver.check(signed(body), body)


async def test_a_repeated_event_is_recognised_by_the_inbox(database: Database) -> None:
    event = CloudEvent({"id": "e-1", "source": "test", "type": TYPE}, {"a": 1})
    other_source = CloudEvent({"id": "e-1", "source": "other", "type": TYPE}, {"a": 1})

    assert TABLES.inbox_event is not None
    async with database.sessionmaker() as session:
        first = await first_delivery(session, TABLES.inbox_event, event)
        repeated = await first_delivery(session, TABLES.inbox_event, event)
        elsewhere = await first_delivery(session, TABLES.inbox_event, other_source)
        await session.commit()

    assert (first, repeated, elsewhere) == (True, False, True)


async def test_the_webhook_answers_problems(hook: tuple[Hook, LiveServer]) -> None:
    _, server = hook
    body = structured()
    async with httpx.AsyncClient(base_url=server.url) as http:
        forged = await http.post("/hook", content=body, headers=signed(body, secret="x" * 40))
        huge = await http.post("/hook", content=b"x" * (65 * 1024), headers=signed(b""))

    assert forged.status_code == 401
    assert forged.headers["content-type"] == "application/problem+json"
    assert forged.json()["type"] == "urn:rathaus:problem:invalid-event-signature"
    assert huge.status_code == 413
