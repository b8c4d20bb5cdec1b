"""Where other services deliver their events to documents (see servicekit.events)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from documents.events.models import CITIZEN_ERASED, InboxEvent
from documents.retention.dependencies import RetentionDep
from documents.settings import SettingsDep
from servicekit.dependencies import SessionDep
from servicekit.events import WEBHOOK_ROUTE, EventReceiver, event_data, first_delivery
from servicekit.tenancy import Ags

router = APIRouter(prefix="/documents/v1", tags=["events"])


class CitizenErased(BaseModel):
    tenant: Ags
    booking_ids: list[uuid.UUID] = Field(max_length=10_000)


@router.post("/events", **WEBHOOK_ROUTE)
async def receive_event(
    request: Request, session: SessionDep, settings: SettingsDep, retention: RetentionDep
) -> Response:
    """Events of other services: booking's ``citizen.erased`` deletes those bookings'
    documents and rooms. 204 once handled, also for a repeated delivery and for types
    documents does not act on."""
    event = await EventReceiver(settings.events_secrets).receive(request)
    if event.get_type() != CITIZEN_ERASED:
        return Response(status_code=204)
    erased = event_data(event, CitizenErased)
    # Idempotent, in transactions of its own, and before this request's session takes the
    # database (on SQLite that would hold the write lock the erasure's batches need): a
    # repeated delivery erases nothing more. The inbox then records that it was handled.
    await retention.erase_bookings(
        tenant=erased.tenant,
        booking_ids=[str(booking_id) for booking_id in erased.booking_ids],
    )
    await first_delivery(session, InboxEvent, event)
    return Response(status_code=204)
