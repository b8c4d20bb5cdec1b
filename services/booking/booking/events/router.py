"""Where other services deliver their events to booking (see servicekit.events)."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi import APIRouter, Request, Response

from booking.db import SessionDep
from booking.dependencies import BookingsDep
from booking.events.models import ACCOUNT_ERASED, InboxEvent
from booking.retention.service import erase_person
from servicekit.auth import Principal
from servicekit.db import utcnow
from servicekit.events import (
    EVENT_BODY,
    EventReceiver,
    EventTooLarge,
    InvalidEventSignature,
    MalformedEvent,
    first_delivery,
)
from servicekit.problems import problem_responses

router = APIRouter(prefix="/booking/v1", tags=["events"])

_AGS = re.compile(r"^[0-9]{8}$")


@router.post(
    "/events",
    status_code=204,
    response_class=Response,
    openapi_extra=EVENT_BODY,
    responses=problem_responses(InvalidEventSignature, MalformedEvent, EventTooLarge),
)
async def receive_event(request: Request, session: SessionDep, bookings: BookingsDep) -> Response:
    """Events of other services (identity's ``account.erased``). 204 once handled, also for a
    repeated delivery and for types booking does not act on."""
    settings = request.app.state.settings
    event = await EventReceiver(settings.events_secrets).receive(request)
    if event.get_type() != ACCOUNT_ERASED or not await first_delivery(session, InboxEvent, event):
        return Response(status_code=204)
    data = event.get_data()
    tenant = event.get_extension("tenant")
    assert isinstance(data, dict)  # the receiver accepts JSON objects only
    account_id, email = data.get("account_id"), data.get("email")
    if not isinstance(tenant, str) or not _AGS.match(tenant) or not isinstance(account_id, str):
        raise MalformedEvent("account.erased needs the tenant and the account's id.")
    # The erasure acts with the authority of the municipality's administrators, as theirs
    # (or the person's own) at identity did.
    acting = Principal(
        subject=f"event:{event.get_source()}:{event.get_id()}",
        tenant=tenant,
        roles=frozenset({"admin"}),
        scopes=frozenset(),
        token_id=event.get_id(),
        client_id=None,
        expires_at=utcnow() + timedelta(minutes=1),
    )
    await erase_person(
        bookings,
        request.app.state.outbox,
        tenant,
        acting,
        account_id,
        email if isinstance(email, str) else None,
    )
    return Response(status_code=204)
