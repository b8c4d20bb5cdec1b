"""Receiving other services' events on a webhook route, each acted on once.

:class:`EventReceiver` reads a delivery (at most :data:`MAX_EVENT_BYTES`), checks its
signature with the secret of the event's claimed ``source``
(:func:`servicekit.events.signing.check_signature`) and parses the structured CloudEvent;
:func:`event_data` checks its data against the consumer's model; :func:`first_delivery`
records its id in the consumer's inbox, in the consumer's transaction, so that a repeated
delivery is acknowledged without acting twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import TypeVar

from cloudevents.core.bindings.http import HTTPMessage, from_structured_event
from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.v1.event import CloudEvent
from fastapi import Request
from pydantic import BaseModel, SecretStr, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.events.signing import EVENT_MEDIA_TYPE, SIGNATURE_TOLERANCE_S, check_signature
from servicekit.events.tables import InboxColumns
from servicekit.problems import BadRequest, PayloadTooLarge

DataT = TypeVar("DataT", bound=BaseModel)

MAX_EVENT_BYTES = 64 * 1024


class MalformedEvent(BadRequest):
    type_slug = "malformed-event"
    title = "The body is not a structured CloudEvents 1.0 event with a JSON object as data"


class EventTooLarge(PayloadTooLarge):
    type_slug = "event-too-large"
    title = "The event is larger than accepted"


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
        check_signature(headers, body, secret, now=self.clock(), tolerance_s=self.tolerance_s)
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
    return await first_receipt(
        session,
        inbox_model,
        source=event.get_source(),
        event_id=event.get_id(),
        event_type=event.get_type(),
    )


async def first_receipt(
    session: AsyncSession,
    inbox_model: type[InboxColumns],
    *,
    source: str,
    event_id: str,
    event_type: str,
) -> bool:
    """:func:`first_delivery` for a notification that is not a CloudEvent but has a source and
    an id of its own (another product's webhook)."""
    try:
        async with session.begin_nested():
            session.add(inbox_model(source=source, id=event_id, type=event_type))
    except IntegrityError:
        return False
    return True
