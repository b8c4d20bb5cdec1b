"""Closing the LiveKit rooms whose call's window is over.

LiveKit keeps a room while someone is in it; the window's end is ours to enforce. Every round
(``DOCUMENTS_CALL_CLOSE_INTERVAL_S``) each replica claims the rooms that are due (the
database's row locks, skipped by the others) and deletes them through LiveKit's RoomService
(``DeleteRoom``, which disconnects everyone). A room LiveKit does not answer for stays due for
the next round. LiveKit then sends ``room_finished``, which the webhook turns into the
``call_ended`` room event.
"""

from __future__ import annotations

import logging
from datetime import datetime

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from documents.calls.livekit import API_TIMEOUT, LiveKitServer, LiveKitUnreachable, RoomControl
from documents.calls.repository import LiveKitRoomRepository

log = logging.getLogger(__name__)

ROUND_LIMIT = 50


async def close_due_rooms(
    sessionmaker: async_sessionmaker[AsyncSession],
    servers: dict[str, LiveKitServer],
    now: datetime,
) -> int:
    """Close the rooms due at ``now`` (at most a round's worth); how many were closed."""
    async with sessionmaker() as session, session.begin():
        rooms = LiveKitRoomRepository(session)
        due = await rooms.due(now, ROUND_LIMIT)
        if not due:
            return 0
        closed: list[str] = []
        async with aiohttp.ClientSession(timeout=API_TIMEOUT) as http:
            for room in due:
                server = servers.get(room.tenant)
                if server is None:  # the municipality left LiveKit: nothing to close there
                    closed.append(room.name)
                    continue
                try:
                    await RoomControl(http, server).close(room.name)
                except LiveKitUnreachable:
                    log.warning("closing a LiveKit room failed", extra={"tenant": room.tenant})
                    continue
                closed.append(room.name)
        if closed:
            await rooms.closed(closed, now)
        return len(closed)
