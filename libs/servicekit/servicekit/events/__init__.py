"""Events between services and to partner systems (docs/architecture.md#events).

A publishing service writes each event in the transaction of the change it reports, and a
dispatcher in the background posts it, signed like a FIT-Connect callback, to every subscriber's
webhook until a 2xx answer: at least once. A consuming service checks the signature and acts
on each event once. The package, a job a module:

* subscribers   who receives which events            Subscriber
* signing       the HMAC signature of a delivery     signed_headers, check_signature,
                                                     InvalidEventSignature
* tables        the event tables of every service    EventTables.declare(Base)
  - outbox_events                                    OutboxEventColumns
  - outbox_deliveries                                OutboxDeliveryColumns
  - inbox_events                                     InboxColumns
* publishing
  - outbox      write in the change's transaction    Outbox.emit
  - dispatch    claim, send, back off, prune         Dispatcher, undelivered
                (the claims, the pauses and the bookkeeping: servicekit.delivery)
* receiving
  - receive     check, parse, act once (inbox)       EventReceiver, event_data, first_delivery,
                                                     first_receipt
* contract      the published events and the route   published_events, CloudEventOf,
                in the service's OpenAPI             WEBHOOK_ROUTE

Import the names from here. A module is loaded when one of its names is first asked for, so
``servicekit.settings`` (which reads ``servicekit.events.subscribers``) stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from servicekit.delivery import RETRY_PAUSES_S as RETRY_PAUSES_S
    from servicekit.events.contract import EVENT_BODY as EVENT_BODY
    from servicekit.events.contract import EVENT_WEBHOOK as EVENT_WEBHOOK
    from servicekit.events.contract import WEBHOOK_ROUTE as WEBHOOK_ROUTE
    from servicekit.events.contract import CloudEventOf as CloudEventOf
    from servicekit.events.contract import SignedDelivery as SignedDelivery
    from servicekit.events.contract import published_events as published_events
    from servicekit.events.dispatch import KEEP_DELIVERED as KEEP_DELIVERED
    from servicekit.events.dispatch import Dispatcher as Dispatcher
    from servicekit.events.dispatch import undelivered as undelivered
    from servicekit.events.outbox import Outbox as Outbox
    from servicekit.events.outbox import PublisherSettings as PublisherSettings
    from servicekit.events.receive import MAX_EVENT_BYTES as MAX_EVENT_BYTES
    from servicekit.events.receive import EventReceiver as EventReceiver
    from servicekit.events.receive import EventTooLarge as EventTooLarge
    from servicekit.events.receive import MalformedEvent as MalformedEvent
    from servicekit.events.receive import event_data as event_data
    from servicekit.events.receive import first_delivery as first_delivery
    from servicekit.events.receive import first_receipt as first_receipt
    from servicekit.events.signing import EVENT_MEDIA_TYPE as EVENT_MEDIA_TYPE
    from servicekit.events.signing import SIGNATURE_HEADER as SIGNATURE_HEADER
    from servicekit.events.signing import SIGNATURE_TOLERANCE_S as SIGNATURE_TOLERANCE_S
    from servicekit.events.signing import TIMESTAMP_HEADER as TIMESTAMP_HEADER
    from servicekit.events.signing import InvalidEventSignature as InvalidEventSignature
    from servicekit.events.signing import check_signature as check_signature
    from servicekit.events.signing import signature as signature
    from servicekit.events.signing import signed_headers as signed_headers
    from servicekit.events.subscribers import Subscriber as Subscriber
    from servicekit.events.tables import EventTables as EventTables
    from servicekit.events.tables import InboxColumns as InboxColumns
    from servicekit.events.tables import OutboxDeliveryColumns as OutboxDeliveryColumns
    from servicekit.events.tables import OutboxEventColumns as OutboxEventColumns

MODULE_OF: dict[str, str] = {
    "RETRY_PAUSES_S": "servicekit.delivery",
    "EVENT_BODY": "servicekit.events.contract",
    "EVENT_WEBHOOK": "servicekit.events.contract",
    "WEBHOOK_ROUTE": "servicekit.events.contract",
    "CloudEventOf": "servicekit.events.contract",
    "SignedDelivery": "servicekit.events.contract",
    "published_events": "servicekit.events.contract",
    "KEEP_DELIVERED": "servicekit.events.dispatch",
    "Dispatcher": "servicekit.events.dispatch",
    "undelivered": "servicekit.events.dispatch",
    "Outbox": "servicekit.events.outbox",
    "PublisherSettings": "servicekit.events.outbox",
    "MAX_EVENT_BYTES": "servicekit.events.receive",
    "EventReceiver": "servicekit.events.receive",
    "EventTooLarge": "servicekit.events.receive",
    "MalformedEvent": "servicekit.events.receive",
    "event_data": "servicekit.events.receive",
    "first_delivery": "servicekit.events.receive",
    "first_receipt": "servicekit.events.receive",
    "EVENT_MEDIA_TYPE": "servicekit.events.signing",
    "SIGNATURE_HEADER": "servicekit.events.signing",
    "SIGNATURE_TOLERANCE_S": "servicekit.events.signing",
    "TIMESTAMP_HEADER": "servicekit.events.signing",
    "InvalidEventSignature": "servicekit.events.signing",
    "check_signature": "servicekit.events.signing",
    "signature": "servicekit.events.signing",
    "signed_headers": "servicekit.events.signing",
    "Subscriber": "servicekit.events.subscribers",
    "EventTables": "servicekit.events.tables",
    "InboxColumns": "servicekit.events.tables",
    "OutboxDeliveryColumns": "servicekit.events.tables",
    "OutboxEventColumns": "servicekit.events.tables",
}
"""Where each name of the package lives (the imports above, for the type checker)."""

if not TYPE_CHECKING:  # to mypy, the package has the names imported above and no others

    def __getattr__(name: str) -> Any:
        module = MODULE_OF.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted([*globals(), *MODULE_OF])
