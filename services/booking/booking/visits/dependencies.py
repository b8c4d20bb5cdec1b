"""The visits' dependency: the day of an appointment, on the request's session."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from booking.bookings.dependencies import BookingsDep
from booking.settings import SettingsDep
from booking.visits.repository import KpiDayRepository, VisitRepository
from booking.visits.service import Visits
from servicekit.dependencies import SessionDep


async def _visits(session: SessionDep, bookings: BookingsDep, settings: SettingsDep) -> Visits:
    return Visits(VisitRepository(session), bookings, settings, KpiDayRepository(session))


VisitsDep = Annotated[Visits, Depends(_visits)]
