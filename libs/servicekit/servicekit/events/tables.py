"""The event tables, the same in every service, mapped on each service's own declarative base.

``outbox_events`` holds what a service publishes, ``outbox_deliveries`` one row per event and
subscriber until it is delivered, ``inbox_events`` the ids of the events a consumer has acted
on. :meth:`EventTables.declare` maps them once for a service; the mixins are what it maps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from servicekit.db import UTCDateTime, utcnow
from servicekit.delivery import DeliveryColumns
from servicekit.events.outbox import Outbox, PublisherSettings


class OutboxEventColumns:
    """An event a service publishes, kept until every subscriber has received it."""

    __tablename__ = "outbox_events"

    if TYPE_CHECKING:  # the declarative Base of the mapping class provides it

        def __init__(self, **values: Any) -> None: ...

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    type: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str | None] = mapped_column(String(200), default=None)
    tenant: Mapped[str | None] = mapped_column(String(8), default=None)
    time: Mapped[datetime] = mapped_column(UTCDateTime())
    data: Mapped[str] = mapped_column(Text)
    # The W3C trace context of the change that wrote the event, sent on with its deliveries.
    traceparent: Mapped[str | None] = mapped_column(String(55), default=None)


class OutboxDeliveryColumns(DeliveryColumns):
    """The delivery of an event to one subscriber."""

    __tablename__ = "outbox_deliveries"

    if TYPE_CHECKING:  # the declarative Base of the mapping class provides it

        def __init__(self, **values: Any) -> None: ...

    # No foreign key: without a relationship the unit of work would not order the inserts.
    event_id: Mapped[str] = mapped_column(String(36), index=True)
    subscriber: Mapped[str] = mapped_column(String(64))


class InboxColumns:
    """An event a consuming service has acted on, by source and id."""

    __tablename__ = "inbox_events"

    if TYPE_CHECKING:  # the declarative Base of the mapping class provides it

        def __init__(self, **values: Any) -> None: ...

    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    type: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


@dataclass(frozen=True)
class EventTables:
    """A service's event tables as mapped classes of its declarative base, declared once in
    its ``events/models.py``::

        event_tables = EventTables.declare(Base, module=__name__)
        outbox_of = event_tables.outbox
        OutboxEvent = event_tables.outbox_event  # and OutboxDelivery, InboxEvent

    To mypy a class a call makes is no type, so the service names them for it as the columns
    they map (``if TYPE_CHECKING: OutboxEvent = OutboxEventColumns``).
    """

    outbox_event: type[OutboxEventColumns]
    outbox_delivery: type[OutboxDeliveryColumns]
    inbox_event: type[InboxColumns] | None
    """None for a service that receives no events."""

    @classmethod
    def declare(
        cls, base: type[DeclarativeBase], *, module: str, inbox: bool = True
    ) -> EventTables:
        """Map ``OutboxEvent``, ``OutboxDelivery`` and (with ``inbox``) ``InboxEvent`` on
        ``base``, as classes of ``module`` (the service's ``events.models``): once per base,
        and alembic sees the tables in its metadata."""

        def mapped(name: str, columns: type[Any]) -> Any:
            return type(name, (columns, base), {"__module__": module, "__qualname__": name})

        return cls(
            mapped("OutboxEvent", OutboxEventColumns),
            mapped("OutboxDelivery", OutboxDeliveryColumns),
            mapped("InboxEvent", InboxColumns) if inbox else None,
        )

    def outbox(self, settings: PublisherSettings) -> Outbox:
        """The service's outbox: its name is the events' source; its settings name the
        subscribers."""
        return Outbox.of_service(settings, self.outbox_event, self.outbox_delivery)
