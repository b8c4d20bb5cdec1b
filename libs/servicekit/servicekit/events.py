"""Events between services and to partner systems (DESIGN.md, "Events").

A service that publishes keeps a transactional outbox: :meth:`Outbox.emit` writes a
CloudEvents 1.0 event, and one delivery per interested subscriber, in the very transaction of
the change it reports, so an event goes out if and only if the change committed. A
:class:`Dispatcher` in the background sends due deliveries as structured CloudEvents
(``application/cloudevents+json``) to each subscriber's webhook, signed like FIT-Connect
callbacks: ``callback-timestamp`` (Unix seconds) and ``callback-authentication``, the hex
HMAC-SHA512 of ``<timestamp>.<body>`` under the secret the two sides share. A 2xx answer
delivers; anything else (or no answer) is tried again with growing pauses, for as long as it
takes: at least once. Replicas share the work by claiming deliveries for a while, so each
attempt is made by one of them.

A service that consumes uses :class:`EventReceiver` on its webhook route: the signature is
checked with the publisher's secret (picked by the event's ``source``), the timestamp must be
recent, and :func:`first_delivery` records the event's id in the consumer's inbox in the
consumer's transaction, so a repeated delivery is acknowledged without acting twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Generic, Literal, Protocol, TypeVar

import httpx
from cloudevents.core.bindings.http import HTTPMessage, from_structured_event, to_structured_event
from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.v1.event import CloudEvent
from fastapi import APIRouter, Depends, Header, Request, Response
from prometheus_client import CollectorRegistry, Counter
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SecretStr, ValidationError
from sqlalchemy import BigInteger, Index, Integer, String, Text, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from servicekit.db import UTCDateTime, utcnow
from servicekit.problems import BadRequest, PayloadTooLarge, Unauthorized, problem_responses
from servicekit.tenancy import Ags

logger = logging.getLogger("servicekit.events")
DataT = TypeVar("DataT", bound=BaseModel)

EVENT_MEDIA_TYPE = "application/cloudevents+json"
TIMESTAMP_HEADER = "callback-timestamp"
SIGNATURE_HEADER = "callback-authentication"
SIGNATURE_TOLERANCE_S = 300
"""How far a signed timestamp may lie from the receiver's clock (either way)."""
MAX_EVENT_BYTES = 64 * 1024
RETRY_PAUSES_S: tuple[float, ...] = (1, 5, 30, 120, 600, 1800, 3600)
"""The pause after the first, second, ... failed attempt; the last one repeats."""
KEEP_DELIVERED = timedelta(days=7)
"""How long an event stays in the outbox after every subscriber has received it."""
PRUNE_EVERY_S = 3600.0

EVENT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": (
            "A CloudEvents 1.0 event in structured mode, signed: `callback-timestamp` (Unix "
            "seconds) and `callback-authentication` (hex HMAC-SHA512 of `<timestamp>.<body>` "
            "under the secret shared with its source)."
        ),
        "content": {"application/cloudevents+json": {"schema": {"type": "object"}}},
    }
}
"""``openapi_extra`` of a webhook route: what it takes."""


class Subscriber(BaseModel):
    """A webhook that receives some of a service's events (configured per service)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    url: str = Field(pattern=r"^https?://", max_length=2000)
    secret: SecretStr = Field(min_length=32, description="Shared with the receiver; HMAC key")
    types: frozenset[str] = Field(
        default=frozenset(), description="The event types it wants; empty: every type"
    )

    def wants(self, event_type: str) -> bool:
        return not self.types or event_type in self.types


class InvalidEventSignature(Unauthorized):
    type_slug = "invalid-event-signature"
    title = "The event's signature or timestamp is not valid"


class MalformedEvent(BadRequest):
    type_slug = "malformed-event"
    title = "The body is not a structured CloudEvents 1.0 event with a JSON object as data"


class EventTooLarge(PayloadTooLarge):
    type_slug = "event-too-large"
    title = "The event is larger than accepted"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The ``callback-authentication`` of ``body`` sent at ``timestamp``."""
    message = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha512).hexdigest()


# -- the tables: each service maps them on its own Base ------------------------------------


class OutboxEventColumns:
    """``class OutboxEvent(OutboxEventColumns, Base): pass`` in a publishing service."""

    __tablename__ = "outbox_events"

    if TYPE_CHECKING:  # the declarative Base of the mapping class provides it

        def __init__(self, **values: Any) -> None: ...

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    type: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str | None] = mapped_column(String(200), default=None)
    tenant: Mapped[str | None] = mapped_column(String(8), default=None)
    time: Mapped[datetime] = mapped_column(UTCDateTime())
    data: Mapped[str] = mapped_column(Text)


class OutboxDeliveryColumns:
    """``class OutboxDelivery(OutboxDeliveryColumns, Base): pass``: one per event and
    subscriber."""

    __tablename__ = "outbox_deliveries"

    if TYPE_CHECKING:  # the declarative Base of the mapping class provides it

        def __init__(self, **values: Any) -> None: ...

    @declared_attr.directive
    @classmethod
    def __table_args__(cls) -> tuple[Any, ...]:
        return (Index("ix_outbox_deliveries_due", "delivered_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    # No foreign key: without a relationship the unit of work would not order the inserts.
    event_id: Mapped[str] = mapped_column(String(36), index=True)
    subscriber: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claim: Mapped[str | None] = mapped_column(String(32), default=None)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_error: Mapped[str | None] = mapped_column(String(200), default=None)


class InboxColumns:
    """``class InboxEvent(InboxColumns, Base): pass`` in a consuming service: the events it
    has acted on, by source and id."""

    __tablename__ = "inbox_events"

    if TYPE_CHECKING:  # the declarative Base of the mapping class provides it

        def __init__(self, **values: Any) -> None: ...

    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    type: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# -- publishing ------------------------------------------------------------------------------


class PublisherSettings(Protocol):
    """What :meth:`Outbox.of_service` reads of a service's settings."""

    @property
    def service_name(self) -> str: ...

    @property
    def events_subscribers(self) -> Sequence[Subscriber]: ...


class Outbox:
    """Where a service's events are written, and who receives which."""

    def __init__(
        self,
        event_model: type[OutboxEventColumns],
        delivery_model: type[OutboxDeliveryColumns],
        *,
        source: str,
        subscribers: Sequence[Subscriber],
    ) -> None:
        self.event_model = event_model
        self.delivery_model = delivery_model
        self.source = source
        self.subscribers = {subscriber.name: subscriber for subscriber in subscribers}

    @classmethod
    def of_service(
        cls,
        settings: PublisherSettings,
        event_model: type[OutboxEventColumns],
        delivery_model: type[OutboxDeliveryColumns],
    ) -> Outbox:
        """A service's outbox: its name is the events' source; its settings name the
        subscribers."""
        return cls(
            event_model,
            delivery_model,
            source=settings.service_name,
            subscribers=settings.events_subscribers,
        )

    def _wanting(self, event_type: str) -> list[Subscriber]:
        return [s for s in self.subscribers.values() if s.wants(event_type)]

    def wanted(self, event_type: str) -> bool:
        """Whether anyone subscribes to ``event_type``: an event's data need not be built
        (on a hot path) when nobody does."""
        return bool(self._wanting(event_type))

    def emit(
        self,
        session: AsyncSession,
        event_type: str,
        data: Mapping[str, Any],
        *,
        subject: str | None = None,
        tenant: str | None = None,
    ) -> str | None:
        """Add the event (and its deliveries) to ``session``'s transaction; its id. An event
        no subscriber wants is not kept at all (None)."""
        wanted_by = self._wanting(event_type)
        if not wanted_by:
            return None
        event_id = str(uuid.uuid4())
        now = utcnow()
        session.add(
            self.event_model(
                id=event_id,
                type=event_type,
                subject=subject,
                tenant=tenant,
                time=now,
                data=json.dumps(data, separators=(",", ":"), sort_keys=True),
            )
        )
        for subscriber in wanted_by:
            session.add(
                self.delivery_model(
                    event_id=event_id, subscriber=subscriber.name, attempts=0, next_attempt_at=now
                )
            )
        return event_id

    def cloud_event(self, row: OutboxEventColumns) -> CloudEvent:
        attributes: dict[str, Any] = {
            "id": row.id,
            "source": self.source,
            "type": row.type,
            "time": row.time,
            "datacontenttype": "application/json",
        }
        if row.subject is not None:
            attributes["subject"] = row.subject
        if row.tenant is not None:
            attributes["tenant"] = row.tenant
        return CloudEvent(attributes, json.loads(row.data))


class Dispatcher:
    """Sends due deliveries of an outbox; run :meth:`run` as a background task."""

    def __init__(
        self,
        outbox: Outbox,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        client: httpx.AsyncClient | None = None,
        batch: int = 50,
        claim_s: float = 60.0,
        timeout_s: float = 5.0,
        pauses_s: Sequence[float] = RETRY_PAUSES_S,
        clock: Callable[[], datetime] = utcnow,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.outbox = outbox
        self.sessionmaker = sessionmaker
        self._client = client or httpx.AsyncClient(timeout=timeout_s)
        self._owns_client = client is None
        self.batch = batch
        self.claim_s = claim_s
        self.pauses_s = tuple(pauses_s)
        self.clock = clock
        # For /metrics: an ops team alerts on a subscriber whose attempts keep failing.
        self._attempts = Counter(
            "events_delivery_attempts",
            "Attempts to deliver an event, by subscriber and outcome",
            ["subscriber", "outcome"],
            registry=registry,
        )

    async def deliver_due(self) -> int:
        """Send every delivery that is due now (batch by batch); how many were delivered."""
        delivered = 0
        while True:
            claimed = await self._claim()
            if not claimed:
                return delivered
            results = await asyncio.gather(*(self._send(d, e) for d, e in claimed))
            await self._record(claimed, results)
            for (delivery, _), error in zip(claimed, results, strict=True):
                outcome = "delivered" if error is None else "failed"
                self._attempts.labels(delivery.subscriber, outcome).inc()
            delivered += sum(1 for error in results if error is None)
            if len(claimed) < self.batch:
                return delivered

    async def run(self, interval_s: float, *, keep: timedelta = KEEP_DELIVERED) -> None:
        """Deliver what is due every ``interval_s``, and prune what was delivered longer ago
        than ``keep`` once an hour, until cancelled."""
        pruned_at: float | None = None
        while True:
            try:
                await self.deliver_due()
                if pruned_at is None or time.monotonic() - pruned_at >= PRUNE_EVERY_S:
                    pruned_at = time.monotonic()
                    await self.prune(self.clock() - keep)
            except Exception:  # the next round tries again; the loop must not die
                logger.exception("delivering events failed")
            await asyncio.sleep(interval_s)

    async def prune(self, before: datetime) -> int:
        """Delete the events from before ``before`` that every subscriber has received (and
        their deliveries): an event can carry personal data, and is kept no longer than its
        delivery needs. Events still on their way stay. How many events went."""
        delivery, event = self.outbox.delivery_model, self.outbox.event_model
        pending = select(delivery.event_id).where(delivery.delivered_at.is_(None))
        async with self.sessionmaker() as session:
            doomed = list(
                await session.scalars(
                    select(event.id).where(event.time < before, event.id.not_in(pending))
                )
            )
            for start in range(0, len(doomed), 500):
                batch = doomed[start : start + 500]
                await session.execute(
                    delete(delivery)
                    .where(delivery.event_id.in_(batch))
                    .execution_options(synchronize_session=False)
                )
                await session.execute(
                    delete(event)
                    .where(event.id.in_(batch))
                    .execution_options(synchronize_session=False)
                )
            await session.commit()
        return len(doomed)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def _claim(self) -> list[tuple[OutboxDeliveryColumns, OutboxEventColumns]]:
        """Due deliveries, claimed for ``claim_s`` by this dispatcher alone (another replica's
        UPDATE finds them claimed and skips them), with their events."""
        delivery, event = self.outbox.delivery_model, self.outbox.event_model
        now = self.clock()
        free = or_(delivery.claimed_until.is_(None), delivery.claimed_until < now)
        claim = uuid.uuid4().hex
        due = (
            select(delivery.id)
            .where(delivery.delivered_at.is_(None), delivery.next_attempt_at <= now, free)
            .order_by(delivery.id)
            .limit(self.batch)
        )
        async with self.sessionmaker() as session:
            await session.execute(
                update(delivery)
                .where(delivery.id.in_(due.scalar_subquery()), free)
                .values(claim=claim, claimed_until=now + timedelta(seconds=self.claim_s))
                .execution_options(synchronize_session=False)
            )
            await session.commit()
            rows = await session.execute(
                select(delivery, event)
                .join(event, event.id == delivery.event_id)
                .where(delivery.claim == claim)
                .order_by(delivery.id)
            )
            claimed = [(row[0], row[1]) for row in rows.all()]
            await session.commit()
        return claimed

    async def _send(self, delivery: OutboxDeliveryColumns, row: OutboxEventColumns) -> str | None:
        """None when delivered, else why not."""
        subscriber = self.outbox.subscribers.get(delivery.subscriber)
        if subscriber is None:
            return "no such subscriber configured"
        message = to_structured_event(self.outbox.cloud_event(row))
        timestamp = str(int(time.time()))
        headers = {
            "content-type": EVENT_MEDIA_TYPE,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: signature(
                subscriber.secret.get_secret_value(), timestamp, message.body
            ),
        }
        try:
            response = await self._client.post(
                subscriber.url, content=message.body, headers=headers
            )
        except httpx.HTTPError as exc:
            return f"not reached: {exc.__class__.__name__}"
        if 200 <= response.status_code < 300:
            return None
        return f"answered {response.status_code}"

    async def _record(
        self,
        claimed: Sequence[tuple[OutboxDeliveryColumns, OutboxEventColumns]],
        results: Sequence[str | None],
    ) -> None:
        model = self.outbox.delivery_model
        now = self.clock()
        async with self.sessionmaker() as session:
            for (delivery, row), error in zip(claimed, results, strict=True):
                values: dict[str, Any] = {"claim": None, "claimed_until": None}
                if error is None:
                    values |= {"delivered_at": now, "attempts": delivery.attempts + 1}
                else:
                    attempts = delivery.attempts + 1
                    pause = self.pauses_s[min(attempts, len(self.pauses_s)) - 1]
                    values |= {
                        "attempts": attempts,
                        "next_attempt_at": now + timedelta(seconds=pause),
                        "last_error": error[:200],
                    }
                    logger.warning(
                        "event not delivered",
                        extra={
                            "event_type": row.type,
                            "subscriber": delivery.subscriber,
                            "attempts": attempts,
                            "reason": error,
                        },
                    )
                await session.execute(
                    update(model)
                    .where(model.id == delivery.id, model.claim == delivery.claim)
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
            await session.commit()


async def undelivered(
    outbox: Outbox,
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    retry: bool = False,
    now: datetime | None = None,
) -> str:
    """For operators: the deliveries still on their way, per subscriber (how many, the most
    attempts, the next attempt, the last error); with ``retry``, all of them are due now."""
    model = outbox.delivery_model
    now = now or utcnow()
    async with sessionmaker() as session:
        pending = list(
            await session.scalars(
                select(model).where(model.delivered_at.is_(None)).order_by(model.id)
            )
        )
        if retry and pending:
            await session.execute(
                update(model)
                .where(model.delivered_at.is_(None))
                .values(next_attempt_at=now, claim=None, claimed_until=None)
                .execution_options(synchronize_session=False)
            )
            await session.commit()
    if not pending:
        return "every event has been delivered"
    lines: list[str] = []
    for name in sorted({delivery.subscriber for delivery in pending}):
        mine = [d for d in pending if d.subscriber == name]
        last = max(mine, key=lambda d: d.attempts)
        next_at = "now" if retry else min(d.next_attempt_at for d in mine).isoformat()
        lines.append(
            f"{name}: {len(mine)} undelivered, up to {last.attempts} attempts, next {next_at}, "
            f"last error: {last.last_error or '-'}"
        )
    return "\n".join(lines)


# -- receiving -------------------------------------------------------------------------------


class EventReceiver:
    """Checks and parses events delivered to a webhook route of this service."""

    def __init__(
        self,
        secrets: Mapping[str, SecretStr],
        *,
        tolerance_s: float = SIGNATURE_TOLERANCE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.secrets = dict(secrets)
        self.tolerance_s = tolerance_s
        self.clock = clock

    async def receive(self, request: Request) -> CloudEvent:
        """The event of ``request``, or InvalidEventSignature (401), MalformedEvent (400),
        EventTooLarge (413)."""
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_EVENT_BYTES:
                raise EventTooLarge(f"At most {MAX_EVENT_BYTES} bytes.")
        return self.check(request.headers, bytes(body))

    def check(self, headers: Mapping[str, str], body: bytes) -> CloudEvent:
        try:
            document = json.loads(body)
        except ValueError:
            raise MalformedEvent("The body is not JSON.") from None
        if not isinstance(document, dict):
            raise MalformedEvent("The body is not a JSON object.")
        # The claimed source only picks the secret to check the signature with.
        secret = self.secrets.get(str(document.get("source")))
        timestamp = headers.get(TIMESTAMP_HEADER, "")
        given = headers.get(SIGNATURE_HEADER, "")
        if secret is None or not timestamp.isdigit() or not given:
            raise InvalidEventSignature()
        if abs(self.clock() - int(timestamp)) > self.tolerance_s:
            raise InvalidEventSignature("The timestamp is too far from now.")
        expected = signature(secret.get_secret_value(), timestamp, body)
        if not hmac.compare_digest(expected, given.lower()):
            raise InvalidEventSignature()
        missing = [
            name
            for name in ("specversion", "id", "source", "type")
            if not isinstance(document.get(name), str) or not document[name]
        ]
        if missing:
            raise MalformedEvent("Missing: " + ", ".join(missing))
        try:
            event = from_structured_event(
                HTTPMessage(headers={"content-type": EVENT_MEDIA_TYPE}, body=body)
            )
        except (BaseCloudEventException, ValueError, TypeError, AttributeError) as exc:
            raise MalformedEvent(str(exc)[:200]) from None
        if not isinstance(event, CloudEvent) or not isinstance(event.get_data(), dict):
            raise MalformedEvent()
        return event


def event_data(event: CloudEvent, model: type[DataT]) -> DataT:
    """The event's data, with its ``tenant`` attribute, checked as ``model``; MalformedEvent
    (400) when it does not fit."""
    data = event.get_data()
    assert isinstance(data, dict)  # EventReceiver accepts JSON objects only
    try:
        return model.model_validate({**data, "tenant": event.get_extension("tenant")})
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in error["loc"]) for error in exc.errors()})
        raise MalformedEvent(f"{event.get_type()}: not valid: {', '.join(fields)}") from None


async def first_delivery(
    session: AsyncSession, inbox_model: type[InboxColumns], event: CloudEvent
) -> bool:
    """Record ``event`` in the consumer's inbox (in ``session``'s transaction): False when it
    was recorded before, i.e. this is a repeated delivery to acknowledge without acting."""
    try:
        async with session.begin_nested():
            session.add(
                inbox_model(source=event.get_source(), id=event.get_id(), type=event.get_type())
            )
    except IntegrityError:
        return False
    return True


# -- documenting what a service publishes (OpenAPI 3.1 ``webhooks`` of its contract) --------


class CloudEventOf(BaseModel, Generic[DataT]):
    """A delivered event as its subscriber receives it: structured CloudEvents 1.0 JSON."""

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(description="Unique per source: a subscriber de-duplicates by it")
    source: str = Field(examples=["booking"])
    type: str
    subject: str | None = None
    time: AwareDatetime
    datacontenttype: Literal["application/json"] = "application/json"
    tenant: Ags | None = Field(default=None, description="The municipality (AGS)")
    data: DataT


async def _signed(
    callback_timestamp: Annotated[
        str, Header(description="When the delivery was signed: Unix seconds")
    ],
    callback_authentication: Annotated[
        str,
        Header(
            description=(
                "Hex HMAC-SHA512 of `<callback-timestamp>.<body>` under the secret shared "
                "with the subscriber"
            )
        ),
    ],
) -> None:
    return None


SignedDelivery = Annotated[None, Depends(_signed)]
"""For a documented webhook's parameters: the headers that sign every delivery."""

EVENT_WEBHOOK: dict[str, Any] = {
    "status_code": 204,
    "response_class": Response,
    "responses": {
        "204": {"description": "Received (any 2xx will do)"},
        "default": {
            "description": (
                "Anything else, or no answer within 5 s: delivered again after 1 s, 5 s, "
                "30 s, 2 min, 10 min, 30 min, then hourly"
            )
        },
    },
}
"""How :func:`published_events` documents each event: a delivery is answered 2xx."""


def published_events(events: Mapping[str, tuple[type[BaseModel], str]]) -> APIRouter:
    """The events a service publishes, for ``create_service_app(webhooks=...)``: each type with
    its data model and what it means, documented as an OpenAPI webhook (the CloudEvent
    envelope around the model, and the headers that sign it)."""
    router = APIRouter(tags=["events"])
    for event_type, (model, description) in events.items():

        async def delivered(event: Any, _signed: Any) -> None:
            return None

        # The name FastAPI makes the summary and operationId of: "booking.confirmed" and the
        # like, the last two parts of the type.
        delivered.__name__ = "_".join(event_type.split(".")[-2:])
        delivered.__annotations__ = {
            "event": CloudEventOf[model],  # type: ignore[valid-type]
            "_signed": SignedDelivery,
            "return": None,
        }
        router.post(event_type, description=description, **EVENT_WEBHOOK)(delivered)
    return router


WEBHOOK_ROUTE: dict[str, Any] = {
    "status_code": 204,
    "response_class": Response,
    "openapi_extra": EVENT_BODY,
    "responses": problem_responses(InvalidEventSignature, MalformedEvent, EventTooLarge),
}
"""``@router.post("/events", **WEBHOOK_ROUTE)``: a service's webhook for other services' events
(204 once handled, also for a repeated delivery and for types it does not act on)."""
