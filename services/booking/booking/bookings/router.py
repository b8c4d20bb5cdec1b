from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response

from booking.access import NotAdministrator, NotStaff, TenantAdmin, TenantStaff
from booking.availability.errors import ServicesNotOffered, SlotNotOffered, TooManyServices
from booking.bookings.dependencies import BookingsDep
from booking.bookings.errors import (
    BookingClosed,
    BookingLimitReached,
    BookingNotConfirmed,
    BookingNotFound,
    BookingNotHeld,
    HoldExpired,
    HoldLimitReached,
    SlotTaken,
)
from booking.bookings.ical import booking_calendar
from booking.bookings.schemas import (
    BookingList,
    BookingOut,
    Checklist,
    ContactIn,
    DayView,
    HoldIn,
    HoldOut,
    OptInIn,
    RescheduleIn,
    TenantDayView,
)
from booking.bookings.service import Caller, NotOfficeStaff
from booking.catalogue.errors import ServiceNotFound
from booking.idempotency.dependencies import IdempotencyDep
from booking.idempotency.service import caller_key
from booking.language import LanguageDep
from booking.offices.errors import OfficeNotFound
from servicekit.auth import CurrentPrincipal, InvalidToken, OptionalPrincipal
from servicekit.botcheck import BOTCHECK_PROBLEMS, BotcheckSolution
from servicekit.datetimes import RequestDate
from servicekit.dependencies import ClientAddress, SessionDep
from servicekit.idempotency import IdempotencyKeyReused, IdempotentRequestInProgress
from servicekit.problems import ValidationFailed, problem_responses
from servicekit.tenancy import AgsPath

router = APIRouter(tags=["bookings"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=r"^[A-Za-z0-9_.:-]{16,200}$",
        description=(
            "Unique per attempt (e.g. a UUID): a repeat with the same body replays the first "
            "response; with another body it is 422; while the first still runs, 409"
        ),
    ),
]
ManageToken = Annotated[
    str | None,
    Header(
        alias="X-Manage-Token",
        max_length=200,
        description="The secret of the booking's manage link (instead of an account token)",
    ),
]
IDEMPOTENCY_PROBLEMS = (IdempotencyKeyReused, IdempotentRequestInProgress)
SLOT_PROBLEMS = (
    ServiceNotFound,
    OfficeNotFound,
    ServicesNotOffered,
    SlotNotOffered,
    TooManyServices,
)


@router.post(
    "/booking/v1/tenants/{ags}/holds",
    status_code=201,
    response_model=HoldOut,
    responses=problem_responses(
        InvalidToken,
        *SLOT_PROBLEMS,
        SlotTaken,
        HoldLimitReached,
        *BOTCHECK_PROBLEMS,
        *IDEMPOTENCY_PROBLEMS,
        ValidationFailed,
    ),
)
async def hold_slot(
    ags: AgsPath,
    body: HoldIn,
    request: Request,
    session: SessionDep,
    bookings: BookingsDep,
    idempotency: IdempotencyDep,
    principal: OptionalPrincipal,
    language: LanguageDep,
    address: ClientAddress,
    idempotency_key: IdempotencyKey = None,
    solution: BotcheckSolution = None,
) -> Response:
    """Hold a slot for a few minutes; with an account token the booking belongs to the account.

    The answer carries the manage token (shown once) for managing the booking without an account.
    Without an account, where the municipality asks for it, send a solved challenge of
    ``GET .../botcheck`` in ``X-Altcha`` (one per hold; an idempotent repeat replays).
    """

    async def action() -> HoldOut:
        booking, token = await bookings.hold(
            ags, body, principal, language, address=address, solution=solution
        )
        described = (await bookings.describe([booking], language))[0]
        return HoldOut(**described.model_dump(), manage_token=token)

    return await idempotency.run(
        session=session,
        caller=caller_key(principal, address),
        key=idempotency_key,
        method="POST",
        path=request.url.path,
        request_body=body,
        status_code=201,
        action=action,
        secret_fields=("manage_token",),
    )


@router.get(
    "/booking/v1/bookings",
    response_model=BookingList,
    responses=problem_responses(InvalidToken),
)
async def my_bookings(
    principal: CurrentPrincipal, bookings: BookingsDep, language: LanguageDep
) -> BookingList:
    """The caller's own bookings (citizens with an account), latest first."""
    items = await bookings.of_citizen(principal)
    return BookingList(items=await bookings.describe(items, language))


@router.get(
    "/booking/v1/bookings/{booking_id}",
    response_model=BookingOut,
    responses=problem_responses(InvalidToken, BookingNotFound, ValidationFailed),
)
async def get_booking(
    booking_id: uuid.UUID,
    bookings: BookingsDep,
    principal: OptionalPrincipal,
    language: LanguageDep,
    manage_token: ManageToken = None,
) -> BookingOut:
    """A booking, for its citizen (account or manage token) and the office's clerks."""
    booking = await bookings.find(booking_id, Caller(principal, manage_token))
    return (await bookings.describe([booking], language))[0]


@router.post(
    "/booking/v1/bookings/{booking_id}/confirm",
    response_model=BookingOut,
    responses=problem_responses(
        InvalidToken,
        BookingNotFound,
        HoldExpired,
        BookingNotHeld,
        BookingLimitReached,
        HoldLimitReached,
        *IDEMPOTENCY_PROBLEMS,
        ValidationFailed,
    ),
)
async def confirm_booking(
    booking_id: uuid.UUID,
    body: ContactIn,
    request: Request,
    session: SessionDep,
    bookings: BookingsDep,
    idempotency: IdempotencyDep,
    principal: OptionalPrincipal,
    language: LanguageDep,
    address: ClientAddress,
    manage_token: ManageToken = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Confirm a held slot with the citizen's contact data; answers with the checklist.

    Without an account, where the municipality asks for a double opt-in (the default), the
    booking stays ``held`` (with the contact) and a link is mailed to the address: the
    citizen confirms it there (``POST .../opt-in``) within the hold's lifetime.
    """

    async def action() -> BookingOut:
        booking = await bookings.confirm(booking_id, Caller(principal, manage_token), body)
        return (await bookings.describe([booking], language))[0]

    return await idempotency.run(
        session=session,
        caller=caller_key(principal, address, manage_token),
        key=idempotency_key,
        method="POST",
        path=request.url.path,
        request_body=body,
        status_code=200,
        action=action,
    )


@router.get(
    "/booking/v1/bookings/{booking_id}/opt-in",
    response_model=BookingOut,
    responses=problem_responses(BookingNotFound, ValidationFailed),
)
async def opt_in_booking(
    booking_id: uuid.UUID,
    bookings: BookingsDep,
    language: LanguageDep,
    token: Annotated[str, Query(max_length=200, description="The mailed link's token")],
) -> BookingOut:
    """The held booking a double opt-in link is about, to show before confirming. Changes
    nothing: mail scanners follow links."""
    booking = await bookings.opted_in(booking_id, token)
    return (await bookings.describe([booking], language, with_contact=False))[0]


@router.post(
    "/booking/v1/bookings/{booking_id}/opt-in",
    response_model=BookingOut,
    responses=problem_responses(
        BookingNotFound, HoldExpired, BookingNotHeld, BookingLimitReached, ValidationFailed
    ),
)
async def confirm_opted_in_booking(
    booking_id: uuid.UUID, body: OptInIn, bookings: BookingsDep, language: LanguageDep
) -> BookingOut:
    """Confirm a held booking by the token of its double opt-in mail (repeating it changes
    nothing); the confirmation with the invitation is mailed."""
    booking = await bookings.confirm_by_mail(booking_id, body.token)
    return (await bookings.describe([booking], language, with_contact=False))[0]


@router.post(
    "/booking/v1/bookings/{booking_id}/cancel",
    response_model=BookingOut,
    responses=problem_responses(InvalidToken, BookingNotFound, BookingClosed, ValidationFailed),
)
async def cancel_booking(
    booking_id: uuid.UUID,
    bookings: BookingsDep,
    principal: OptionalPrincipal,
    language: LanguageDep,
    manage_token: ManageToken = None,
) -> BookingOut:
    """Cancel a hold or a booking and free its slot (repeating it changes nothing)."""
    booking = await bookings.cancel(booking_id, Caller(principal, manage_token))
    return (await bookings.describe([booking], language))[0]


@router.post(
    "/booking/v1/bookings/{booking_id}/reschedule",
    response_model=BookingOut,
    responses=problem_responses(
        InvalidToken,
        BookingNotFound,
        *SLOT_PROBLEMS,
        SlotTaken,
        BookingClosed,
        BookingNotConfirmed,
        ValidationFailed,
    ),
)
async def reschedule_booking(
    booking_id: uuid.UUID,
    body: RescheduleIn,
    bookings: BookingsDep,
    principal: OptionalPrincipal,
    language: LanguageDep,
    manage_token: ManageToken = None,
) -> BookingOut:
    """Move a confirmed booking atomically: on a lost race it stays where it was (409)."""
    booking = await bookings.reschedule(booking_id, Caller(principal, manage_token), body)
    return (await bookings.describe([booking], language))[0]


@router.get(
    "/booking/v1/bookings/{booking_id}/checklist",
    response_model=Checklist,
    responses=problem_responses(InvalidToken, BookingNotFound, ValidationFailed),
)
async def booking_checklist(
    booking_id: uuid.UUID,
    bookings: BookingsDep,
    principal: OptionalPrincipal,
    language: LanguageDep,
    manage_token: ManageToken = None,
) -> Checklist:
    """The documents to bring (with their ids), for the citizen and the office's clerks."""
    booking = await bookings.find(booking_id, Caller(principal, manage_token))
    return await bookings.checklist(booking, language)


@router.get(
    "/booking/v1/bookings/{booking_id}/calendar.ics",
    response_class=Response,
    responses={
        200: {
            "content": {"text/calendar": {"schema": {"type": "string"}}},
            "description": "RFC 5545",
        },
        **problem_responses(InvalidToken, BookingNotFound, ValidationFailed),
    },
)
async def booking_calendar_file(
    booking_id: uuid.UUID,
    bookings: BookingsDep,
    principal: OptionalPrincipal,
    language: LanguageDep,
    manage_token: ManageToken = None,
) -> Response:
    """The appointment as an iCalendar file in the office's time zone, with the checklist."""
    booking = await bookings.find(booking_id, Caller(principal, manage_token))
    described = (await bookings.describe([booking], language, with_contact=False))[0]
    office = await bookings.office_of(booking)
    return Response(
        booking_calendar(described, office, language),
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="termin-{booking.code}.ics"'},
    )


@router.get(
    "/booking/v1/tenants/{ags}/offices/{office_id}/appointments",
    response_model=DayView,
    responses=problem_responses(
        InvalidToken, NotStaff, NotOfficeStaff, OfficeNotFound, ValidationFailed
    ),
)
async def office_day(
    ags: AgsPath,
    office_id: uuid.UUID,
    day: Annotated[RequestDate, Query(alias="date", description="Local day of the office")],
    principal: TenantStaff,
    bookings: BookingsDep,
    language: LanguageDep,
) -> DayView:
    """An office's appointments of a day (its clerks and the municipality's administrators)."""
    office, items = await bookings.office_day(ags, office_id, day, principal)
    return DayView(
        office_id=office.id,
        date=day,
        time_zone=office.time_zone,
        items=await bookings.describe(items, language),
    )


@router.get(
    "/booking/v1/tenants/{ags}/appointments",
    response_model=TenantDayView,
    responses=problem_responses(InvalidToken, NotAdministrator, ValidationFailed),
)
async def tenant_day(
    ags: AgsPath,
    day: Annotated[RequestDate, Query(alias="date", description="Local day of the offices")],
    _admin: TenantAdmin,
    bookings: BookingsDep,
    language: LanguageDep,
) -> TenantDayView:
    """The appointments of a day across every office of the municipality (administrators)."""
    items = await bookings.tenant_day(ags, day)
    return TenantDayView(date=day, items=await bookings.describe(items, language))
