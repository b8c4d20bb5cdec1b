"""The waitlist's dependency: the request's :class:`Waitlist`, on the request's bookings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from booking.bookings.dependencies import BookingsDep
from booking.waitlist.service import Waitlist, WaitlistDesk
from servicekit.dependencies import app_state

WaitlistDeskDep = Annotated[WaitlistDesk, Depends(app_state("waitlist_desk", WaitlistDesk))]


async def _waitlist(bookings: BookingsDep, desk: WaitlistDeskDep) -> Waitlist:
    return desk.waitlist(bookings)


WaitlistDep = Annotated[Waitlist, Depends(_waitlist)]
