from __future__ import annotations

import functools
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Header, Request, Response, WebSocket
from pydantic import BaseModel, ConfigDict, Field

from documents.access.dependencies import ACCESS_PROBLEMS, BookingId, CallerDep
from documents.access.errors import BookingNotFound
from documents.calls.dependencies import (
    CallHubDep,
    CallsDep,
    LiveKitCallsDep,
    VerifierDep,
    socket_caller,
)
from documents.calls.errors import (
    BookingNotConfirmed,
    CallNotOpen,
    InvalidLiveKitWebhook,
    LiveKitUnavailable,
    NoLiveKit,
    NotAClerk,
    ParticipantNotWaiting,
    TooManyCalls,
)
from documents.calls.ice import IceServersOut
from documents.calls.livekit import CITIZEN_IDENTITY, InvalidWebhook, verified_event
from documents.calls.protocol import SUBPROTOCOL
from documents.calls.service import receive_webhook, record
from documents.calls.session import CallSession, SessionLimits
from documents.rooms.bell import ring_after_commit
from documents.rooms.dependencies import RoomBellDep
from documents.settings import SettingsDep
from servicekit.dependencies import DatabaseDep
from servicekit.problems import (
    PayloadTooLarge,
    Problem,
    ValidationFailed,
    problem_response,
    problem_responses,
)

router = APIRouter(prefix="/documents/v1", tags=["consultation rooms"])


@router.get(
    "/bookings/{booking_id}/room/call/ice-servers",
    response_model=IceServersOut,
    # A browser turns a null username into the string "null": absent, not null.
    response_model_exclude_none=True,
    responses=problem_responses(
        *ACCESS_PROBLEMS, BookingNotFound, BookingNotConfirmed, CallNotOpen, ValidationFailed
    ),
)
async def call_ice_servers(
    booking_id: BookingId, caller: CallerDep, calls: CallsDep, livekit: LiveKitCallsDep
) -> IceServersOut:
    """STUN/TURN servers for the room's video call, with TURN credentials that expire (the
    booking's citizen and the office's clerks, in the call's window only); or, where the
    municipality runs LiveKit, a LiveKit token (a citizen's lets them wait until admitted)."""
    return await calls.ice_servers(booking_id, caller, livekit)


class LiveKitAdmitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    identity: str = Field(
        pattern=CITIZEN_IDENTITY,
        description="The waiting citizen's participant identity, as the LiveKit room shows it",
    )


@router.post(
    "/bookings/{booking_id}/room/call/livekit/admit",
    status_code=204,
    response_class=Response,
    responses=problem_responses(
        *ACCESS_PROBLEMS,
        BookingNotFound,
        BookingNotConfirmed,
        CallNotOpen,
        NotAClerk,
        NoLiveKit,
        ParticipantNotWaiting,
        LiveKitUnavailable,
        ValidationFailed,
    ),
)
async def admit_on_livekit(
    booking_id: BookingId,
    admit: LiveKitAdmitIn,
    caller: CallerDep,
    calls: CallsDep,
    livekit: LiveKitCallsDep,
    bell: RoomBellDep,
    background: BackgroundTasks,
) -> Response:
    """A clerk of the booking's office lets the waiting citizen into the LiveKit room: they
    may publish and subscribe from now on (a room event ``call_admitted``)."""
    event = await calls.admit_on_livekit(booking_id, caller, admit.identity, livekit)
    ring_after_commit(background, bell, event.booking_id)
    return Response(status_code=204)


LIVEKIT_WEBHOOK_MAX_BYTES = 64 * 1024


@router.post(
    "/calls/livekit/webhook",
    status_code=204,
    response_class=Response,
    responses=problem_responses(InvalidLiveKitWebhook, PayloadTooLarge),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "LiveKit's webhook event (JSON), signed in the Authorization header",
            "content": {"application/webhook+json": {"schema": {"type": "object"}}},
        }
    },
)
async def livekit_webhook(
    request: Request,
    settings: SettingsDep,
    bell: RoomBellDep,
    database: DatabaseDep,
    authorization: Annotated[
        str | None,
        Header(description="The LiveKit server's JWT over the body (its sha256 claim)"),
    ] = None,
) -> Response:
    """A municipality's LiveKit server tells what happened in an appointment's room
    (participant joined or left, room finished): a room event each, once per webhook id."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > LIVEKIT_WEBHOOK_MAX_BYTES:
            raise PayloadTooLarge(f"At most {LIVEKIT_WEBHOOK_MAX_BYTES} bytes.")
    try:
        tenant, event = verified_event(
            settings.livekit, body.decode(errors="replace"), authorization or ""
        )
    except InvalidWebhook as exc:
        raise InvalidLiveKitWebhook() from exc
    await receive_webhook(database.sessionmaker, bell, tenant, event)
    return Response(status_code=204)


@router.websocket("/bookings/{booking_id}/room/call")
async def call_socket(
    websocket: WebSocket,
    booking_id: BookingId,
    calls: CallsDep,
    hub: CallHubDep,
    bell: RoomBellDep,
    database: DatabaseDep,
    settings: SettingsDep,
    verifier: VerifierDep,
) -> None:
    """The room's video call: signalling (see the contract's description)."""
    try:
        if hub.full:
            raise TooManyCalls(headers={"Retry-After": "10"})
        caller = await socket_caller(websocket, verifier)
        access, window = await calls.enter(booking_id, caller)
    except Problem as problem:
        await _deny(websocket, problem)
        return
    session = CallSession(
        websocket,
        access,
        window,
        hub=hub,
        limits=SessionLimits(
            max_message_bytes=settings.call_max_message_bytes,
            burst=settings.call_messages_burst,
            per_s=settings.call_messages_per_s,
            recheck_s=settings.room_recheck_s,
        ),
        record=functools.partial(record, database.sessionmaker, bell),
        recheck=functools.partial(calls.still_in, caller),
    )
    offered = websocket.scope.get("subprotocols") or ()
    await session.run(SUBPROTOCOL if SUBPROTOCOL in offered else None)


async def _deny(websocket: WebSocket, problem: Problem) -> None:
    """Refuse the upgrade with the problem as an HTTP answer (403 where the server cannot)."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        response = problem_response(problem.body(websocket), problem.status, problem.headers)
        await websocket.send_denial_response(response)
    else:
        await websocket.close(code=1008)
