from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from booking.access import NotAdministrator, NotStaff, TenantStaff
from booking.availability.errors import ServicesNotOffered, TooManyServices
from booking.bookings.errors import BookingNotFound
from booking.bookings.service import Caller, NotOfficeStaff
from booking.catalogue.errors import ServiceNotFound
from booking.offices.errors import OfficeNotFound
from booking.visits.dependencies import VisitsDep
from booking.visits.errors import (
    AlreadyRated,
    CheckInClosed,
    CheckInNeedsConfirmation,
    InvalidPeriod,
    NobodyWaiting,
    NotCheckedIn,
    NotTheCitizen,
    VisitCompleted,
    VisitNotCalled,
    VisitNotCompleted,
)
from booking.visits.schemas import (
    Board,
    CallIn,
    CompleteIn,
    FeedbackIn,
    Kpis,
    Queue,
    VisitOut,
    WalkInIn,
)
from servicekit.auth import CurrentPrincipal, InvalidToken, PrincipalOrManageToken
from servicekit.datetimes import RequestDate
from servicekit.problems import ValidationFailed, problem_responses
from servicekit.tenancy import AgsPath, NotYourMunicipality

router = APIRouter(tags=["visits"])

MAX_PERIOD_DAYS = 366


@router.post(
    "/booking/v1/bookings/{booking_id}/check-in",
    response_model=VisitOut,
    responses=problem_responses(
        InvalidToken, BookingNotFound, CheckInNeedsConfirmation, CheckInClosed, ValidationFailed
    ),
)
async def check_in(
    booking_id: uuid.UUID,
    visits: VisitsDep,
    holder: PrincipalOrManageToken,
) -> VisitOut:
    """The citizen is here: from shortly before the appointment until its end, by the citizen
    (account or manage link, e.g. a QR code at the entrance) or a clerk of the office.
    Repeating it changes nothing; the answer says how many are to be called first."""
    return await visits.check_in(booking_id, Caller(holder.principal, holder.manage_token))


@router.get(
    "/booking/v1/tenants/{ags}/offices/{office_id}/queue",
    response_model=Queue,
    responses=problem_responses(
        InvalidToken,
        NotStaff,
        NotYourMunicipality,
        NotOfficeStaff,
        OfficeNotFound,
        ValidationFailed,
    ),
)
async def office_queue(
    ags: AgsPath, office_id: uuid.UUID, principal: TenantStaff, visits: VisitsDep
) -> Queue:
    """Today's queue of an office: who is waiting, in call order, and who is at a counter."""
    queue = await visits.queue(ags, office_id, principal)
    return Queue(
        office_id=queue.office.id,
        date=queue.day,
        time_zone=queue.office.time_zone,
        waiting=queue.waiting,
        called=queue.called,
    )


@router.get(
    "/booking/v1/tenants/{ags}/offices/{office_id}/queue/board",
    response_model=Board,
    responses=problem_responses(OfficeNotFound, ValidationFailed),
)
async def queue_board(ags: AgsPath, office_id: uuid.UUID, visits: VisitsDep) -> Board:
    """For the display in the waiting room (public): how many wait, and today's latest calls
    by booking code and counter, newest first."""
    return await visits.board(ags, office_id)


@router.post(
    "/booking/v1/tenants/{ags}/offices/{office_id}/queue/walk-ins",
    status_code=201,
    response_model=VisitOut,
    responses=problem_responses(
        InvalidToken,
        NotStaff,
        NotYourMunicipality,
        NotOfficeStaff,
        OfficeNotFound,
        ServiceNotFound,
        ServicesNotOffered,
        TooManyServices,
        ValidationFailed,
    ),
)
async def register_walk_in(
    ags: AgsPath,
    office_id: uuid.UUID,
    body: WalkInIn,
    principal: TenantStaff,
    visits: VisitsDep,
) -> VisitOut:
    """A clerk registers a citizen without an appointment; they wait in today's queue like an
    appointment that begins now, without taking a seat of the online slots."""
    return await visits.walk_in(ags, office_id, principal, body)


@router.post(
    "/booking/v1/tenants/{ags}/offices/{office_id}/queue/call",
    response_model=VisitOut,
    responses=problem_responses(
        InvalidToken,
        NotStaff,
        NotYourMunicipality,
        NotOfficeStaff,
        OfficeNotFound,
        NobodyWaiting,
        ValidationFailed,
    ),
)
async def call_next(
    ags: AgsPath,
    office_id: uuid.UUID,
    body: CallIn,
    principal: TenantStaff,
    visits: VisitsDep,
) -> VisitOut:
    """Call the next waiting citizen to a counter (clerks calling at once call different
    citizens); 409 when nobody is waiting."""
    return await visits.call_next(ags, office_id, principal, body.counter)


@router.post(
    "/booking/v1/bookings/{booking_id}/complete",
    response_model=VisitOut,
    responses=problem_responses(
        InvalidToken,
        BookingNotFound,
        NotOfficeStaff,
        NotCheckedIn,
        VisitNotCalled,
        VisitCompleted,
        ValidationFailed,
    ),
)
async def complete_visit(
    booking_id: uuid.UUID, body: CompleteIn, principal: CurrentPrincipal, visits: VisitsDep
) -> VisitOut:
    """The clerk is done with the citizen, and says whether the concern was settled."""
    return await visits.complete(booking_id, principal, body.resolved)


@router.post(
    "/booking/v1/bookings/{booking_id}/feedback",
    response_model=VisitOut,
    responses=problem_responses(
        InvalidToken,
        BookingNotFound,
        NotTheCitizen,
        VisitNotCompleted,
        AlreadyRated,
        ValidationFailed,
    ),
)
async def visit_feedback(
    booking_id: uuid.UUID,
    body: FeedbackIn,
    visits: VisitsDep,
    holder: PrincipalOrManageToken,
) -> VisitOut:
    """The citizen rates the completed visit, once."""
    return await visits.feedback(
        booking_id, Caller(holder.principal, holder.manage_token), body.rating
    )


@router.get(
    "/booking/v1/tenants/{ags}/kpis",
    response_model=Kpis,
    responses=problem_responses(
        InvalidToken,
        NotStaff,
        NotYourMunicipality,
        NotAdministrator,
        NotOfficeStaff,
        OfficeNotFound,
        InvalidPeriod,
        ValidationFailed,
    ),
)
async def kpis(
    ags: AgsPath,
    date_from: Annotated[RequestDate, Query(alias="from", description="First local day")],
    date_to: Annotated[RequestDate, Query(alias="to", description="Last local day (inclusive)")],
    principal: TenantStaff,
    visits: VisitsDep,
    office_id: Annotated[
        uuid.UUID | None,
        Query(description="One office (its clerks may ask); without it every office (admins)"),
    ] = None,
    service_id: Annotated[
        uuid.UUID | None,
        Query(description="Only appointments that include this service"),
    ] = None,
) -> Kpis:
    """Waiting and processing times, no-shows, first-contact resolution, satisfaction and the
    staff time saved, over the confirmed appointments of a period."""
    if date_to < date_from or (date_to - date_from).days >= MAX_PERIOD_DAYS:
        raise InvalidPeriod(f"'to' must not precede 'from'; at most {MAX_PERIOD_DAYS} days.")
    return await visits.kpis(ags, principal, date_from, date_to, office_id, service_id)
