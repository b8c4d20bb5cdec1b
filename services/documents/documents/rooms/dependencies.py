from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from documents.clients.dependencies import BookingClientDep
from documents.rooms.bell import RoomBell
from documents.rooms.repository import RoomRepository
from documents.rooms.service import RoomService
from servicekit.dependencies import SessionDep, app_state

RoomBellDep = Annotated[RoomBell, Depends(app_state("room_bell", RoomBell))]
"""Wakes this process's event streams of a room (see :mod:`documents.rooms.bell`)."""


async def _rooms(session: SessionDep, booking: BookingClientDep) -> RoomService:
    return RoomService(RoomRepository(session), booking)


RoomsDep = Annotated[RoomService, Depends(_rooms)]
