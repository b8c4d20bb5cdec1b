"""Sending an outbox's deliveries, at least once, and pruning what every subscriber has.

A :class:`Dispatcher` runs in the background of each replica. Every round it claims the due
deliveries (:func:`servicekit.delivery.claim_due`: each attempt is made by one replica), posts
each event, signed (:mod:`servicekit.events.signing`), to its subscriber's webhook, and
records the outcome: a 2xx answer delivers; anything else, or no answer, is tried again after
:data:`~servicekit.delivery.RETRY_PAUSES_S`, for as long as it takes. Once an hour it deletes
the events every subscriber received longer than :data:`KEEP_DELIVERED` ago.
:func:`undelivered` is the operators' view of what is still on its way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import httpx
from cloudevents.core.bindings.http import to_structured_event
from opentelemetry.trace import SpanKind
from prometheus_client import CollectorRegistry, Counter
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from servicekit.db import utcnow
from servicekit.delivery import (
    RETRY_PAUSES_S,
    claim_due,
    make_all_due,
    record_attempt,
    run_rounds,
)
from servicekit.events.outbox import Outbox
from servicekit.events.signing import signed_headers
from servicekit.events.tables import OutboxDeliveryColumns, OutboxEventColumns
from servicekit.outbound.client import outbound_client
from servicekit.outbound.policy import DEVELOPMENT_POLICY, OutboundPolicy
from servicekit.tracing import TRACEPARENT_HEADER, Tracing

logger = logging.getLogger("servicekit.events")

KEEP_DELIVERED = timedelta(days=7)
"""How long an event stays in the outbox after every subscriber has received it."""

Claimed = Sequence[tuple[OutboxDeliveryColumns, OutboxEventColumns]]


class Dispatcher:
    """Sends due deliveries of an outbox; run :meth:`run` as a background task."""

    def __init__(
        self,
        outbox: Outbox,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        client: httpx.AsyncClient | None = None,
        policy: OutboundPolicy = DEVELOPMENT_POLICY,
        batch: int = 50,
        claim_s: float = 60.0,
        timeout_s: float = 5.0,
        pauses_s: Sequence[float] = RETRY_PAUSES_S,
        clock: Callable[[], datetime] = utcnow,
        registry: CollectorRegistry | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self.outbox = outbox
        self.sessionmaker = sessionmaker
        # Webhook URLs are configured, not ours: called only where ``policy`` allows.
        self.tracing = tracing or Tracing()
        self._client = self.tracing.instrument_client(
            client or outbound_client(policy, timeout_s=timeout_s)
        )
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
        await run_rounds(
            self.deliver_due,
            lambda: self.prune(self.clock() - keep),
            interval_s,
            what="delivering events",
        )

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
        """Due deliveries, claimed for ``claim_s`` by this dispatcher alone, with their
        events."""
        delivery, event = self.outbox.delivery_model, self.outbox.event_model
        async with self.sessionmaker() as session:
            claim = await claim_due(
                session, delivery, now=self.clock(), batch=self.batch, claim_s=self.claim_s
            )
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
        headers = signed_headers(subscriber.secret.get_secret_value(), message.body)
        if row.traceparent is not None:
            # The trace that wrote the event goes on at the subscriber (replaced by the
            # delivery's own client span when tracing is on).
            headers[TRACEPARENT_HEADER] = row.traceparent
        with self.tracing.continued_span(
            f"deliver {row.type}",
            row.traceparent,
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "cloudevents-webhook",
                "messaging.operation.type": "send",
                "messaging.destination.name": delivery.subscriber,
                "messaging.message.id": row.id,
                "cloudevents.event_type": row.type,
                "rathaus.delivery.attempt": delivery.attempts + 1,
            },
        ):
            try:
                response = await self._client.post(
                    subscriber.url, content=message.body, headers=headers
                )
            except httpx.HTTPError as exc:
                return f"not reached: {exc.__class__.__name__}"
        if 200 <= response.status_code < 300:
            return None
        return f"answered {response.status_code}"

    async def _record(self, claimed: Claimed, results: Sequence[str | None]) -> None:
        model = self.outbox.delivery_model
        now = self.clock()
        async with self.sessionmaker() as session:
            for (delivery, row), error in zip(claimed, results, strict=True):
                attempts = await record_attempt(
                    session, model, delivery, error, now=now, pauses_s=self.pauses_s
                )
                if error is not None:
                    logger.warning(
                        "event not delivered",
                        extra={
                            "event_type": row.type,
                            "subscriber": delivery.subscriber,
                            "attempts": attempts,
                            "reason": error,
                        },
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
            await make_all_due(session, model, now)
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
