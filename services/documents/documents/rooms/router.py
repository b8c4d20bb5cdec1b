from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Header, Query
from fastapi.responses import StreamingResponse
from pydantic import Field

from documents.access.dependencies import ACCESS_PROBLEMS, BookingId, CallerDep
from documents.access.errors import BookingClosed, BookingNotFound
from documents.clients.dependencies import BookingClientDep
from documents.rooms.bell import ring_after_commit
from documents.rooms.dependencies import RoomBellDep, RoomsDep
from documents.rooms.errors import TooManyStreams
from documents.rooms.schemas import MessageIn, RoomEventOut, RoomEventsOut, RoomTimelineOut
from documents.rooms.service import (
    PAGE,
    StreamSettings,
    event_out,
    follow,
    timeline_event_out,
)
from documents.settings import SettingsDep
from servicekit.dependencies import DatabaseDep
from servicekit.problems import ValidationFailed, problem_responses

router = APIRouter(prefix="/documents/v1", tags=["consultation rooms"])


EVENT_ID_MAX = 2**63 - 1
"""The largest id an event can have (a signed 64-bit integer in the database)."""


EventId = Annotated[int, Field(ge=0, le=EVENT_ID_MAX)]

After = Annotated[
    EventId,
    Query(
        description=(
            "Only events with a higher id (the last id the client has seen; at most 2^63-1)"
        ),
    ),
]


@router.get(
    "/bookings/{booking_id}/room/events",
    response_model=RoomEventsOut,
    responses=problem_responses(*ACCESS_PROBLEMS, BookingNotFound, ValidationFailed),
)
async def room_events(
    booking_id: BookingId,
    caller: CallerDep,
    rooms: RoomsDep,
    after: After = 0,
    limit: Annotated[int, Query(ge=1, le=PAGE)] = 50,
) -> RoomEventsOut:
    """The consultation room's messages and document events after ``after``, oldest first
    (the whole timeline, the video call's too: ``/room/timeline``)."""
    access, events = await rooms.events(booking_id, caller, after, limit)
    return RoomEventsOut(
        booking_id=access.booking.booking_id,
        items=[event_out(event, caller) for event in events],
        next_after=events[-1].id if events else after,
    )


@router.get(
    "/bookings/{booking_id}/room/timeline",
    response_model=RoomTimelineOut,
    responses=problem_responses(*ACCESS_PROBLEMS, BookingNotFound, ValidationFailed),
)
async def room_timeline(
    booking_id: BookingId,
    caller: CallerDep,
    rooms: RoomsDep,
    after: After = 0,
    limit: Annotated[int, Query(ge=1, le=PAGE)] = 50,
) -> RoomTimelineOut:
    """The consultation room's whole timeline after ``after``, oldest first: messages,
    document events and what happened in the video call."""
    access, events = await rooms.events(booking_id, caller, after, limit, calls=True)
    return RoomTimelineOut(
        booking_id=access.booking.booking_id,
        items=[timeline_event_out(event, caller) for event in events],
        next_after=events[-1].id if events else after,
    )


@router.post(
    "/bookings/{booking_id}/room/messages",
    status_code=201,
    response_model=RoomEventOut,
    responses=problem_responses(*ACCESS_PROBLEMS, BookingNotFound, BookingClosed, ValidationFailed),
)
async def post_message(
    booking_id: BookingId,
    message: MessageIn,
    caller: CallerDep,
    rooms: RoomsDep,
    bell: RoomBellDep,
    background: BackgroundTasks,
) -> RoomEventOut:
    """Write into the consultation room (the citizen, or a clerk of the booking's office)."""
    event = await rooms.post_message(booking_id, caller, message.text)
    ring_after_commit(background, bell, event.booking_id)
    return event_out(event, caller)


@router.get(
    "/bookings/{booking_id}/room/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": (
                "Server-Sent Events: one `event:` per room event (its kind), `id:` its id, "
                "`data:` a TimelineEventOut as JSON (the video call's `call_*` events "
                "included); comments keep the connection alive. The "
                "stream ends when the access token expires, after at most "
                "DOCUMENTS_ROOM_STREAM_MAX_S (15 minutes by default), or when the caller may "
                "no longer see the booking; reconnect with Last-Event-ID."
            ),
            "content": {
                "text/event-stream": {
                    # Each event (OpenAPI 3.1 has no itemSchema; tools read an event stream's
                    # schema as the schema of one event): its data is a RoomEventOut as JSON.
                    "schema": {
                        "type": "object",
                        "properties": {
                            "event": {"type": "string", "description": "The event's kind"},
                            "id": {"type": "string", "description": "The event's id"},
                            "retry": {"type": "integer", "description": "Reconnect after (ms)"},
                            "data": {
                                "type": "string",
                                "contentMediaType": "application/json",
                                "contentSchema": {"$ref": "#/components/schemas/RoomEventOut"},
                            },
                        },
                    }
                }
            },
        },
        **problem_responses(*ACCESS_PROBLEMS, BookingNotFound, TooManyStreams, ValidationFailed),
    },
)
async def room_stream(
    booking_id: BookingId,
    caller: CallerDep,
    rooms: RoomsDep,
    bell: RoomBellDep,
    booking: BookingClientDep,
    database: DatabaseDep,
    settings: SettingsDep,
    after: After = 0,
    last_event_id: Annotated[
        EventId | None,
        Header(
            description="The id of the last event received (set by EventSource; at most 2^63-1)",
        ),
    ] = None,
) -> StreamingResponse:
    """Follow the consultation room live: its events after ``after`` (or Last-Event-ID)."""
    access = await rooms.enter(booking_id, caller)
    if bell.full:
        raise TooManyStreams(headers={"Retry-After": "10"})
    stream = follow(
        database.sessionmaker,
        booking,
        bell,
        access,
        last_event_id if last_event_id is not None else after,
        StreamSettings(
            poll_s=settings.room_poll_s,
            keep_alive_s=settings.room_keep_alive_s,
            recheck_s=settings.room_recheck_s,
            max_s=settings.room_stream_max_s,
        ),
    )
    return StreamingResponse(
        stream,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
