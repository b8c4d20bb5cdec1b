"""The video call of a booking's consultation room: who may enter, when, and through which
ICE servers; what happens in it goes into the room's timeline.

Who may enter is who may enter the room (the booking's citizen, with a token or the manage
link, and the clerks of its office: booking decides, see :mod:`documents.access.checks`), and
only while the booking is confirmed and its window is open (:mod:`documents.calls.window`).
"""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
from livekit.protocol.webhook import WebhookEvent
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from documents.access.checks import Access, Caller, resolve_access
from documents.access.errors import BookingNotFound, BookingUnavailableProblem
from documents.calls.errors import (
    BookingNotConfirmed,
    CallNotOpen,
    LiveKitUnavailable,
    NoLiveKit,
    NotAClerk,
    ParticipantNotWaiting,
)
from documents.calls.ice import IceServersOut, credential_expiry, ice_servers, turn_subject
from documents.calls.livekit import (
    API_TIMEOUT,
    LiveKitServer,
    LiveKitUnreachable,
    NotInRoom,
    RoomControl,
    RoomHappening,
    happening,
    join_token,
    room_name,
)
from documents.calls.protocol import window_text
from documents.calls.repository import LiveKitRoomRepository
from documents.calls.window import CallWindow, window_of
from documents.clients.booking import BookingClient
from documents.events.models import InboxEvent
from documents.rooms.bell import RoomBell
from documents.rooms.models import RoomEvent, RoomEventKind
from documents.rooms.repository import RoomRepository
from documents.rooms.service import new_event
from documents.settings import DocumentsSettings
from servicekit.events import first_receipt


class CallService:
    def __init__(self, booking: BookingClient, settings: DocumentsSettings) -> None:
        self.booking = booking
        self.settings = settings

    async def enter(self, booking_id: str, caller: Caller) -> tuple[Access, CallWindow]:
        """The caller's access and the call's window; 404 for anyone not in the room, 409 for
        a participant outside the window or of a booking that is not confirmed."""
        access = await resolve_access(self.booking, booking_id, caller)
        if access.booking.status != "confirmed":
            raise BookingNotConfirmed(f"The booking is {access.booking.status}.")
        window = window_of(access.booking, self.settings)
        if not window.is_open(datetime.now(UTC)):
            raise CallNotOpen(
                window_text(window.opens_at, window.closes_at),
                opens_at=window.opens_at.isoformat(),
                closes_at=window.closes_at.isoformat(),
            )
        return access, window

    async def still_in(
        self, caller: Caller, previous: tuple[Access, CallWindow]
    ) -> tuple[Access, CallWindow] | None:
        """Asked again while a socket is open: None once the caller is out; while booking
        cannot be asked, the call goes on as it was."""
        try:
            access = await resolve_access(self.booking, previous[0].booking.booking_id, caller)
        except BookingNotFound:
            return None
        except BookingUnavailableProblem:
            return previous
        if access.booking.status != "confirmed":
            return None
        return access, window_of(access.booking, self.settings)

    async def ice_servers(
        self, booking_id: str, caller: Caller, livekit: LiveKitCalls
    ) -> IceServersOut:
        access, window = await self.enter(booking_id, caller)
        settings = self.settings
        now = datetime.now(UTC)
        server = settings.livekit.get(access.booking.tenant)
        if server is not None:
            return await livekit.join(server, access, window, now)
        secret = settings.turn_secret.get_secret_value() if settings.turn_secret else None
        expires_at = credential_expiry(now, window.closes_at, settings.turn_credential_ttl_s)
        servers = ice_servers(
            stun_urls=settings.stun_urls,
            turn_urls=settings.turn_urls,
            secret=secret,
            booking_id=access.booking.booking_id,
            actor=caller.actor,
            expires_at=expires_at,
        )
        return IceServersOut(
            ice_servers=servers,
            expires_at=expires_at if settings.turn_urls else None,
            opens_at=window.opens_at,
            closes_at=window.closes_at,
        )

    async def admit_on_livekit(
        self, booking_id: str, caller: Caller, identity: str, livekit: LiveKitCalls
    ) -> RoomEvent:
        """A clerk lets a waiting citizen into the LiveKit room (see documents.calls.livekit)."""
        access, _window = await self.enter(booking_id, caller)
        if not access.is_clerk:
            raise NotAClerk()
        server = self.settings.livekit.get(access.booking.tenant)
        if server is None:
            raise NoLiveKit()
        return await livekit.admit(server, access, identity)


_ADMISSION = (RoomEventKind.CALL_ADMITTED, RoomEventKind.CALL_ENDED)


class LiveKitCalls:
    """The LiveKit provider's part that keeps state: the rooms to close, the admissions."""

    def __init__(self, rooms: RoomRepository, livekit_rooms: LiveKitRoomRepository) -> None:
        self.rooms = rooms
        self.livekit_rooms = livekit_rooms

    async def join(
        self, server: LiveKitServer, access: Access, window: CallWindow, now: datetime
    ) -> IceServersOut:
        booking = access.booking
        admitted = access.is_clerk or (
            await self.rooms.newest_kind(
                booking.tenant, booking.booking_id, _ADMISSION, window.opens_at
            )
            == RoomEventKind.CALL_ADMITTED
        )
        join, expires = join_token(
            server,
            tenant=booking.tenant,
            booking_id=booking.booking_id,
            appointment_at=booking.appointment_at,
            clerk=access.is_clerk,
            admitted=admitted,
            pseudonym=_pseudonym(server, access),
            now=now,
            closes_at=window.closes_at,
        )
        await self.livekit_rooms.opened(
            join.room, booking.tenant, booking.booking_id, window.closes_at
        )
        return IceServersOut(
            provider="livekit",
            ice_servers=[],
            livekit=join,
            expires_at=expires,
            opens_at=window.opens_at,
            closes_at=window.closes_at,
        )

    async def admit(self, server: LiveKitServer, access: Access, identity: str) -> RoomEvent:
        room = room_name(access.booking.tenant, access.booking.booking_id)
        async with aiohttp.ClientSession(timeout=API_TIMEOUT) as http:
            try:
                await RoomControl(http, server).admit(room, identity)
            except NotInRoom as exc:
                raise ParticipantNotWaiting() from exc
            except LiveKitUnreachable as exc:
                raise LiveKitUnavailable(headers={"Retry-After": "5"}) from exc
        return await self.rooms.add(new_event(access, RoomEventKind.CALL_ADMITTED))


def _pseudonym(server: LiveKitServer, access: Access) -> str:
    secret = server.api_secret.get_secret_value()
    return turn_subject(secret, access.booking.booking_id, access.caller.actor)


async def record(
    sessionmaker: async_sessionmaker[AsyncSession],
    bell: RoomBell,
    access: Access,
    kind: RoomEventKind,
) -> None:
    """A call's happening as a room event, committed at once, and the room's streams woken."""
    async with sessionmaker() as session, session.begin():
        await RoomRepository(session).add(new_event(access, kind))
    await bell.ring(access.booking.booking_id)


async def receive_webhook(
    sessionmaker: async_sessionmaker[AsyncSession],
    bell: RoomBell,
    tenant: str,
    event: WebhookEvent,
) -> bool:
    """A LiveKit webhook's happening as a room event, once per webhook id (LiveKit delivers
    again when it missed our answer); False when it makes none (another kind, a repetition, a
    room documents never gave a token for)."""
    happened = happening(tenant, event)
    if happened is None:
        return False
    async with sessionmaker() as session, session.begin():
        if event.id and not await first_receipt(
            session,
            InboxEvent,
            source=f"livekit:{tenant}",
            event_id=event.id,
            event_type=f"livekit.{event.event}",
        ):
            return False
        if not await _record_happening(RoomRepository(session), happened):
            return False
    await bell.ring(happened.booking_id)
    return True


async def _record_happening(rooms: RoomRepository, happened: RoomHappening) -> bool:
    appointment_at = happened.appointment_at or await rooms.appointment_at(
        happened.tenant, happened.booking_id
    )
    if appointment_at is None:
        return False
    await rooms.add(
        RoomEvent(
            tenant=happened.tenant,
            booking_id=happened.booking_id,
            appointment_at=appointment_at,
            kind=happened.kind,
            actor=happened.actor,
            actor_role=happened.role,
        )
    )
    return True
