"""The video call of a booking's consultation room: who may enter, when, and through which
ICE servers; what happens in it goes into the room's timeline.

Who may enter is who may enter the room (the booking's citizen, with a token or the manage
link, and the clerks of its office: booking decides, see :mod:`documents.access.checks`), and
only while the booking is confirmed and its window is open (:mod:`documents.calls.window`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from documents.access.checks import Access, Caller, resolve_access
from documents.access.errors import BookingNotFound, BookingUnavailableProblem
from documents.calls.errors import BookingNotConfirmed, CallNotOpen
from documents.calls.ice import IceServersOut, credential_expiry, ice_servers, turn_subject
from documents.calls.livekit import RoomHappening, join_token
from documents.calls.protocol import window_text
from documents.calls.window import CallWindow, window_of
from documents.clients.booking import BookingClient
from documents.rooms.bell import RoomBell
from documents.rooms.models import RoomEvent, RoomEventKind
from documents.rooms.repository import RoomRepository
from documents.rooms.service import new_event
from documents.settings import DocumentsSettings


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

    async def ice_servers(self, booking_id: str, caller: Caller) -> IceServersOut:
        access, window = await self.enter(booking_id, caller)
        settings = self.settings
        now = datetime.now(UTC)
        livekit = settings.livekit.get(access.booking.tenant)
        if livekit is not None:
            pseudonym = turn_subject(
                livekit.api_secret.get_secret_value(), access.booking.booking_id, caller.actor
            )
            join, expires = join_token(
                livekit,
                tenant=access.booking.tenant,
                booking_id=access.booking.booking_id,
                appointment_at=access.booking.appointment_at,
                clerk=access.is_clerk,
                pseudonym=pseudonym,
                now=now,
                closes_at=window.closes_at,
            )
            return IceServersOut(
                provider="livekit",
                ice_servers=[],
                livekit=join,
                expires_at=expires,
                opens_at=window.opens_at,
                closes_at=window.closes_at,
            )
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


async def record_happening(
    sessionmaker: async_sessionmaker[AsyncSession], bell: RoomBell, happened: RoomHappening
) -> bool:
    """A LiveKit room's happening as a room event; False when the room has no appointment
    time to keep it by (a room documents never gave a token for)."""
    async with sessionmaker() as session, session.begin():
        rooms = RoomRepository(session)
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
    await bell.ring(happened.booking_id)
    return True
