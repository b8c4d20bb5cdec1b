"""Where other services deliver their events to booking (see servicekit.events)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from booking.bookings.dependencies import BookingsDep
from booking.events.models import ACCOUNT_ERASED, DOCUMENT_SENT, InboxEvent
from booking.retention.service import erase_person
from booking.settings import SettingsDep
from servicekit.auth import Principal
from servicekit.db import utcnow
from servicekit.dependencies import OutboxDep, SessionDep
from servicekit.events import WEBHOOK_ROUTE, EventReceiver, event_data, first_delivery
from servicekit.tenancy import Ags

router = APIRouter(prefix="/booking/v1", tags=["events"])


class DocumentSent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    tenant: Ags
    document_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    booking_id: uuid.UUID


class AccountErased(BaseModel):
    tenant: Ags
    account_id: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320)


@router.post("/events", **WEBHOOK_ROUTE)
async def receive_event(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    bookings: BookingsDep,
    outbox: OutboxDep,
) -> Response:
    """Events of other services: identity's ``account.erased`` erases the person's bookings;
    documents' ``document.sent`` mails the citizen that a document arrived in the room. 204
    once handled, also for a repeated delivery and for types booking does not act on."""
    event = await EventReceiver(settings.events_secrets).receive(request)
    if event.get_type() == DOCUMENT_SENT and event.get_source() == "documents":
        sent = event_data(event, DocumentSent)
        if await first_delivery(session, InboxEvent, event):
            await bookings.tell_document_arrived(sent.tenant, sent.booking_id, sent.document_id)
        return Response(status_code=204)
    if event.get_type() != ACCOUNT_ERASED:
        return Response(status_code=204)
    erased = event_data(event, AccountErased)
    if not await first_delivery(session, InboxEvent, event):
        return Response(status_code=204)
    # The erasure acts with the authority of the municipality's administrators, as theirs
    # (or the person's own) at identity did.
    acting = Principal(
        subject=f"event:{event.get_source()}:{event.get_id()}",
        tenant=erased.tenant,
        roles=frozenset({"admin"}),
        scopes=frozenset(),
        token_id=event.get_id(),
        client_id=None,
        expires_at=utcnow() + timedelta(minutes=1),
    )
    await erase_person(bookings, outbox, erased.tenant, acting, erased.account_id, erased.email)
    return Response(status_code=204)
