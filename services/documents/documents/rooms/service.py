"""The consultation room of a booking: where its citizen and the office's clerks meet.

A room is the booking's timeline: messages, and every upload, review and withdrawal of the
booking's documents, written in the same transaction as the change itself. Who may enter is
who may see the booking's documents (booking decides, see :mod:`documents.access.checks`).
Clients read it page by page (``after``) or follow it live as a Server-Sent Events stream.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from documents.access.checks import Access, Caller, resolve_access
from documents.access.errors import BookingClosed, BookingNotFound, BookingUnavailableProblem
from documents.clients.booking import BookingClient
from documents.rooms.bell import RoomBell
from documents.rooms.models import TIMELINE_ONLY_KINDS, RoomEvent, RoomEventKind
from documents.rooms.repository import RoomRepository
from documents.rooms.schemas import RoomEventOut, TimelineEventOut

PAGE = 200


def new_event(
    access: Access,
    kind: RoomEventKind,
    *,
    document_id: str | None = None,
    text: str | None = None,
) -> RoomEvent:
    return RoomEvent(
        tenant=access.booking.tenant,
        booking_id=access.booking.booking_id,
        appointment_at=access.booking.appointment_at,
        kind=kind,
        actor=access.caller.actor,
        actor_role=access.role.value,
        document_id=document_id,
        text=text,
    )


def event_out(event: RoomEvent, caller: Caller) -> RoomEventOut:
    return RoomEventOut.model_validate(_fields(event, caller))


def timeline_event_out(event: RoomEvent, caller: Caller) -> TimelineEventOut:
    return TimelineEventOut.model_validate(_fields(event, caller))


def _fields(event: RoomEvent, caller: Caller) -> dict[str, object]:
    return {
        "id": event.id,
        "at": event.at,
        "kind": event.kind,
        "actor_role": event.actor_role,
        "by_me": event.actor == caller.actor,
        "document_id": event.document_id,
        "text": event.text,
    }


class RoomService:
    def __init__(self, rooms: RoomRepository, booking: BookingClient) -> None:
        self.rooms = rooms
        self.booking = booking

    async def enter(self, booking_id: str, caller: Caller) -> Access:
        """The caller's access to the room: who may see the booking's documents (a yes of
        booking's to the same credentials from the last few seconds will do)."""
        return await resolve_access(self.booking, booking_id, caller, reuse=True)

    async def events(
        self, booking_id: str, caller: Caller, after: int, limit: int, *, calls: bool = False
    ) -> tuple[Access, Sequence[RoomEvent]]:
        """The room's events after ``after``; the call's only with ``calls``."""
        access = await self.enter(booking_id, caller)
        events = await self.rooms.after(
            access.booking.tenant,
            access.booking.booking_id,
            after,
            limit,
            without=() if calls else TIMELINE_ONLY_KINDS,
        )
        return access, events

    async def post_message(self, booking_id: str, caller: Caller, text: str) -> RoomEvent:
        access = await resolve_access(self.booking, booking_id, caller)
        if not access.booking.open_for_uploads:
            raise BookingClosed(f"The booking is {access.booking.status}.")
        return await self.rooms.add(new_event(access, RoomEventKind.MESSAGE, text=text))


@dataclass(frozen=True)
class StreamSettings:
    poll_s: float
    keep_alive_s: float
    recheck_s: float
    max_s: float


async def follow(
    sessionmaker: async_sessionmaker[AsyncSession],
    booking: BookingClient,
    bell: RoomBell,
    access: Access,
    after: int,
    settings: StreamSettings,
) -> AsyncIterator[bytes]:
    """The room's events after ``after`` as Server-Sent Events, as they happen.

    Each poll reads in a short session of its own (none is held while waiting). The stream
    ends when the caller's access token expires, after ``max_s``, or when booking no longer
    lets the caller in (asked again every ``recheck_s``); the client reconnects with
    ``Last-Event-ID`` and loses nothing.
    """
    ends = time.time() + settings.max_s
    if access.caller.principal is not None:
        ends = min(ends, access.caller.principal.expires_at.timestamp())
    bell.streams += 1
    try:
        async with contextlib.aclosing(
            _follow(sessionmaker, booking, bell, access, after, settings, ends)
        ) as messages:
            async for message in messages:
                yield message
    finally:
        bell.streams -= 1


async def _follow(
    sessionmaker: async_sessionmaker[AsyncSession],
    booking: BookingClient,
    bell: RoomBell,
    access: Access,
    after: int,
    settings: StreamSettings,
    ends: float,
) -> AsyncGenerator[bytes, None]:
    caller = access.caller
    booking_id = access.booking.booking_id
    checked = time.monotonic()
    quiet_since = time.monotonic()
    yield b"retry: 2000\n\n"
    while time.time() < ends:
        async with sessionmaker() as session:
            events = await RoomRepository(session).after(
                access.booking.tenant, booking_id, after, PAGE
            )
        for event in events:
            after = event.id
            yield _sse(event, caller)
        if events:
            quiet_since = time.monotonic()
            if len(events) == PAGE:
                continue
        if time.monotonic() - checked >= settings.recheck_s:
            checked = time.monotonic()
            try:
                await resolve_access(booking, booking_id, caller)
            except (BookingNotFound, BookingUnavailableProblem):
                return
        await bell.wait(booking_id, min(settings.poll_s, settings.keep_alive_s, ends - time.time()))
        if time.monotonic() - quiet_since >= settings.keep_alive_s:
            quiet_since = time.monotonic()
            yield b": keep-alive\n\n"


def _sse(event: RoomEvent, caller: Caller) -> bytes:
    data = timeline_event_out(event, caller).model_dump_json()
    return f"id: {event.id}\nevent: {event.kind}\ndata: {data}\n\n".encode()
