"""What a service's contract says about events: the ones it publishes and its webhook route.

:func:`published_events` documents each event a service publishes as an OpenAPI 3.1 webhook
(``create_service_app(webhooks=...)``): the CloudEvent envelope (:class:`CloudEventOf`)
around its data model, and the headers that sign it. :data:`WEBHOOK_ROUTE` declares a
service's own ``/events`` route, where other services deliver theirs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import APIRouter, Depends, Header, Response
from pydantic import AwareDatetime, BaseModel, Field

from servicekit.events.receive import EventTooLarge, MalformedEvent
from servicekit.events.signing import InvalidEventSignature
from servicekit.problems import problem_responses
from servicekit.tenancy import Ags

DataT = TypeVar("DataT", bound=BaseModel)

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
