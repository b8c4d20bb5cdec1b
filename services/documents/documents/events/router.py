"""Where other services deliver their events to documents (see servicekit.events)."""

from __future__ import annotations

import re
import uuid

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field, ValidationError

from documents.components import ComponentsDep
from documents.db import SessionDep
from documents.events.models import CITIZEN_ERASED, InboxEvent
from documents.retention.service import erase_bookings
from servicekit.events import (
    EVENT_BODY,
    EventReceiver,
    EventTooLarge,
    InvalidEventSignature,
    MalformedEvent,
    first_delivery,
)
from servicekit.problems import problem_responses

router = APIRouter(prefix="/documents/v1", tags=["events"])

_AGS = re.compile(r"^[0-9]{8}$")


class CitizenErased(BaseModel):
    booking_ids: list[uuid.UUID] = Field(max_length=10_000)


@router.post(
    "/events",
    status_code=204,
    response_class=Response,
    openapi_extra=EVENT_BODY,
    responses=problem_responses(InvalidEventSignature, MalformedEvent, EventTooLarge),
)
async def receive_event(
    request: Request, session: SessionDep, components: ComponentsDep
) -> Response:
    """Events of other services (booking's ``citizen.erased``). 204 once handled, also for a
    repeated delivery and for types documents does not act on."""
    event = await EventReceiver(components.settings.events_secrets).receive(request)
    if event.get_type() != CITIZEN_ERASED:
        return Response(status_code=204)
    tenant = event.get_extension("tenant")
    try:
        erased = CitizenErased.model_validate(event.get_data())
    except ValidationError as exc:
        raise MalformedEvent("citizen.erased needs booking_ids.") from exc
    if not isinstance(tenant, str) or not _AGS.match(tenant):
        raise MalformedEvent("citizen.erased needs the tenant.")
    # Idempotent, in transactions of its own, and before this request's session takes the
    # database (on SQLite that would hold the write lock the erasure's batches need): a
    # repeated delivery erases nothing more. The inbox then records that it was handled.
    await erase_bookings(
        request.app.state.database.sessionmaker,
        components,
        tenant=tenant,
        booking_ids=[str(booking_id) for booking_id in erased.booking_ids],
    )
    await first_delivery(session, InboxEvent, event)
    return Response(status_code=204)
