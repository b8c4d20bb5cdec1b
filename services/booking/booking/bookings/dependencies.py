"""The bookings' dependencies: the request's :class:`Bookings`, from its long-lived half."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from booking.availability.cache import AvailabilityCache
from booking.availability.service import Planner
from booking.bookings.gate import SeatGate
from booking.bookings.mails import BookingMails
from booking.bookings.repository import BookingRepository
from booking.bookings.service import Bookings, FreedSeats
from booking.catalogue.repository import ServiceRepository
from booking.offices.repository import OfficeRepository
from booking.settings import BookingSettings
from servicekit.botcheck import Botcheck
from servicekit.dependencies import SessionDep, app_state
from servicekit.events import Outbox


@dataclass(frozen=True)
class BookingDesk:
    """What every request's :class:`Bookings` shares, built once at startup: the settings,
    the process's seat gate, the outbox, the availability cache, the mails and the waitlist
    (told of freed seats).

    The holds and confirmations are the hot path (see ``bench/booking``): FastAPI solves
    every sub-dependency anew on each request, some 75 Python calls apiece, so these
    as dependencies of their own would add over a quarter to the work of a refused hold.
    """

    settings: BookingSettings
    gate: SeatGate
    outbox: Outbox
    cache: AvailabilityCache
    mails: BookingMails
    waitlist: FreedSeats | None = None
    botcheck: Botcheck | None = None

    def bookings(self, session: AsyncSession) -> Bookings:
        """The bookings of a request, on its session."""
        return Bookings(
            BookingRepository(session),
            Planner.on(session, self.cache, max_services=self.settings.max_services_per_booking),
            OfficeRepository(session),
            ServiceRepository(session),
            self.settings,
            self.gate,
            self.outbox,
            self.mails,
            self.waitlist,
            self.botcheck,
        )


BookingDeskDep = Annotated[BookingDesk, Depends(app_state("booking_desk", BookingDesk))]


async def _bookings(session: SessionDep, desk: BookingDeskDep) -> Bookings:
    return desk.bookings(session)


BookingsDep = Annotated[Bookings, Depends(_bookings)]
