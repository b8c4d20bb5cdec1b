"""Writing events in the transaction of the change they report.

:meth:`Outbox.emit` adds a CloudEvents 1.0 event, and one delivery per subscriber that wants
its type, to the session of the change: the event goes out if and only if the change commits.
An event nobody wants is not kept at all. The dispatcher (:mod:`servicekit.events.dispatch`)
sends the deliveries later.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from cloudevents.core.v1.event import CloudEvent
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.db import utcnow
from servicekit.events.subscribers import Subscriber
from servicekit.tracing import current_traceparent

if TYPE_CHECKING:  # the tables module builds outboxes of its tables
    from servicekit.events.tables import OutboxDeliveryColumns, OutboxEventColumns


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
                # The trace of the change: its delivery continues it (servicekit.tracing).
                traceparent=current_traceparent(),
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
