"""The opening hours' dependency, on the request's session."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from booking.hours.repository import HoursRepository
from booking.hours.service import OpeningHours
from servicekit.dependencies import SessionDep


async def _hours(session: SessionDep) -> OpeningHours:
    return OpeningHours(HoursRepository(session))


HoursDep = Annotated[OpeningHours, Depends(_hours)]
