from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Response

from booking.access import NotAdministrator, TenantAdmin
from booking.availability.dependencies import forget_catalogue_on_write
from booking.bookings.dependencies import BookingsDep
from booking.hours.calendar import day_bounds
from booking.hours.dependencies import HoursDep
from booking.hours.errors import ClosureNotFound, HolidayNotFound
from booking.hours.schemas import (
    ClosureAdded,
    ClosureIn,
    ClosureOut,
    HolidayIn,
    HolidayList,
    HolidayOut,
    HolidaySet,
    OpeningHoursChanged,
    OpeningHoursIn,
    OpeningHoursOut,
)
from booking.offices.dependencies import DirectoryDep
from booking.offices.errors import OfficeNotFound
from servicekit.auth import InvalidToken
from servicekit.datetimes import RequestDate
from servicekit.db import utcnow
from servicekit.problems import ValidationFailed, problem_responses
from servicekit.tenancy import AgsPath, NotYourMunicipality

router = APIRouter(
    prefix="/booking/v1/tenants/{ags}",
    tags=["opening hours"],
    dependencies=[Depends(forget_catalogue_on_write)],
)

ADMIN_PROBLEMS = (InvalidToken, NotAdministrator, NotYourMunicipality, ValidationFailed)


@router.get(
    "/offices/{office_id}/opening-hours",
    response_model=OpeningHoursOut,
    responses=problem_responses(OfficeNotFound, ValidationFailed),
)
async def get_opening_hours(
    ags: AgsPath, office_id: uuid.UUID, directory: DirectoryDep, hours: HoursDep
) -> OpeningHoursOut:
    """An office's weekly opening hours (local time) and its coming closures."""
    return await hours.describe(await directory.get(ags, office_id))


@router.put(
    "/offices/{office_id}/opening-hours",
    response_model=OpeningHoursChanged,
    responses=problem_responses(*ADMIN_PROBLEMS, OfficeNotFound),
)
async def replace_opening_hours(
    ags: AgsPath,
    office_id: uuid.UUID,
    body: OpeningHoursIn,
    _admin: TenantAdmin,
    directory: DirectoryDep,
    hours: HoursDep,
    bookings: BookingsDep,
) -> OpeningHoursChanged:
    """Replace an office's weekly opening hours (administrators): bookings ahead outside the
    new hours are cancelled and their citizens mailed; new hours are offered to the waitlist."""
    described = await hours.replace(await directory.get(ags, office_id), body)
    cancelled = await bookings.settle_hours(ags, [office_id])
    return OpeningHoursChanged(**described.model_dump(), cancelled_bookings=cancelled)


@router.post(
    "/offices/{office_id}/closures",
    status_code=201,
    response_model=ClosureAdded,
    responses=problem_responses(*ADMIN_PROBLEMS, OfficeNotFound),
)
async def add_closure(
    ags: AgsPath,
    office_id: uuid.UUID,
    body: ClosureIn,
    _admin: TenantAdmin,
    directory: DirectoryDep,
    hours: HoursDep,
    bookings: BookingsDep,
) -> ClosureAdded:
    """Close an office for a while (administrators): bookings in it are cancelled and their
    citizens mailed the earliest alternative."""
    closure = await hours.add_closure(await directory.get(ags, office_id), body)
    cancelled = await bookings.settle_hours(
        ags, [office_id], start=closure.starts_at, end=closure.ends_at, reason=closure.reason
    )
    return ClosureAdded(**ClosureOut.of(closure).model_dump(), cancelled_bookings=cancelled)


@router.delete(
    "/offices/{office_id}/closures/{closure_id}",
    status_code=204,
    response_class=Response,
    responses=problem_responses(*ADMIN_PROBLEMS, OfficeNotFound, ClosureNotFound),
)
async def delete_closure(
    ags: AgsPath,
    office_id: uuid.UUID,
    closure_id: uuid.UUID,
    _admin: TenantAdmin,
    directory: DirectoryDep,
    hours: HoursDep,
    bookings: BookingsDep,
) -> None:
    """Remove a closure (administrators); its time is offered to the waitlist."""
    closure = await hours.delete_closure(await directory.get(ags, office_id), closure_id)
    await bookings.settle_hours(ags, [office_id], start=closure.starts_at, end=closure.ends_at)


@router.get("/holidays", response_model=HolidayList, responses=problem_responses(ValidationFailed))
async def list_holidays(
    ags: AgsPath,
    hours: HoursDep,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> HolidayList:
    """Public holidays of the municipality in a year (this year by default): those of its Land
    (by the AGS's first two digits) and those it declares itself."""
    return HolidayList(items=await hours.holidays(ags, year or utcnow().year))


@router.put(
    "/holidays/{day}",
    response_model=HolidaySet,
    responses=problem_responses(*ADMIN_PROBLEMS),
)
async def set_holiday(
    ags: AgsPath,
    day: RequestDate,
    body: HolidayIn,
    _admin: TenantAdmin,
    hours: HoursDep,
    bookings: BookingsDep,
) -> HolidaySet:
    """Declare a holiday of the municipality's own (a local one, or a day off): every office of
    the municipality is closed, also those that open on the Land's public holidays; bookings
    on it are cancelled and their citizens mailed the earliest alternative (administrators)."""
    holiday = await hours.set_holiday(ags, day, body.name)
    start, end = _around(day)
    cancelled = await bookings.settle_hours(ags, [], start=start, end=end, reason=holiday.name)
    return HolidaySet(**HolidayOut.of(holiday).model_dump(), cancelled_bookings=cancelled)


@router.delete(
    "/holidays/{day}",
    status_code=204,
    response_class=Response,
    responses=problem_responses(*ADMIN_PROBLEMS, HolidayNotFound),
)
async def delete_holiday(
    ags: AgsPath, day: RequestDate, _admin: TenantAdmin, hours: HoursDep, bookings: BookingsDep
) -> None:
    """Remove a holiday the municipality declared (administrators); the Land's stay. The day
    is offered to the waitlist."""
    await hours.delete_holiday(ags, day)
    start, end = _around(day)
    await bookings.settle_hours(ags, [], start=start, end=end)


def _around(day: date) -> tuple[datetime, datetime]:
    """The local day in every office's zone: from a day before to a day after, in UTC."""
    zone = ZoneInfo("Europe/Berlin")
    return day_bounds(day - timedelta(days=1), zone)[0], day_bounds(day + timedelta(days=1), zone)[
        1
    ]
