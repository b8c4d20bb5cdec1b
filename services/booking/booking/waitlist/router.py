from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from booking.availability.errors import ServicesNotOffered, TooManyServices
from booking.bookings.errors import BookingLimitReached, BookingNotFound, HoldExpired
from booking.bookings.schemas import BookingOut
from booking.catalogue.errors import ServiceNotFound
from booking.language import LanguageDep
from booking.offices.errors import OfficeNotFound
from booking.waitlist.dependencies import WaitlistDep
from booking.waitlist.errors import (
    DaysNotWaitable,
    NoOffer,
    SubscriptionEnded,
    SubscriptionNotFound,
    WaitlistLimitReached,
)
from booking.waitlist.models import Subscription
from booking.waitlist.schemas import LinkTokenIn, OfferOut, SubscriptionIn, SubscriptionOut
from servicekit.auth import InvalidToken, OptionalPrincipal
from servicekit.openapi import ANONYMOUS_TOO
from servicekit.problems import ValidationFailed, problem_responses
from servicekit.tenancy import AgsPath

router = APIRouter(tags=["waitlist"])

LinkToken = Annotated[str, Query(max_length=200, description="The mailed link's token")]


def _out(subscription: Subscription) -> SubscriptionOut:
    return SubscriptionOut.model_validate(subscription, from_attributes=True)


@router.post(
    "/booking/v1/tenants/{ags}/waitlist",
    status_code=201,
    response_model=SubscriptionOut,
    openapi_extra=ANONYMOUS_TOO,
    responses=problem_responses(
        InvalidToken,
        ServiceNotFound,
        OfficeNotFound,
        ServicesNotOffered,
        TooManyServices,
        DaysNotWaitable,
        WaitlistLimitReached,
        ValidationFailed,
    ),
)
async def subscribe(
    ags: AgsPath,
    body: SubscriptionIn,
    waitlist: WaitlistDep,
    principal: OptionalPrincipal,
    language: LanguageDep,
) -> SubscriptionOut:
    """Wait for a seat of a service (at one office or any) on some days; signed-in citizens
    join the queue at once, others once they confirm the mailed link (``POST .../confirm``).

    When a seat frees, it is held for the first subscriber it fits and offered by mail.
    """
    return _out(await waitlist.subscribe(ags, body, principal, language))


@router.get(
    "/booking/v1/waitlist/{subscription_id}",
    response_model=SubscriptionOut,
    responses=problem_responses(SubscriptionNotFound, ValidationFailed),
)
async def get_subscription(
    subscription_id: uuid.UUID, token: LinkToken, waitlist: WaitlistDep
) -> SubscriptionOut:
    """A subscription, by its confirmation or unsubscribe link; changes nothing (mail
    scanners follow links)."""
    return _out(await waitlist.show(subscription_id, token))


@router.post(
    "/booking/v1/waitlist/{subscription_id}/confirm",
    response_model=SubscriptionOut,
    responses=problem_responses(SubscriptionNotFound, SubscriptionEnded, ValidationFailed),
)
async def confirm_subscription(
    subscription_id: uuid.UUID, body: LinkTokenIn, waitlist: WaitlistDep
) -> SubscriptionOut:
    """Confirm the address by the mailed link's token: the subscription joins the queue."""
    return _out(await waitlist.confirm(subscription_id, body.token))


@router.post(
    "/booking/v1/waitlist/{subscription_id}/unsubscribe",
    response_model=SubscriptionOut,
    responses=problem_responses(SubscriptionNotFound, ValidationFailed),
)
async def unsubscribe(
    subscription_id: uuid.UUID, body: LinkTokenIn, waitlist: WaitlistDep
) -> SubscriptionOut:
    """Leave the waitlist by the mailed link's token (repeating it changes nothing); a seat
    held for the subscription goes to the next subscriber."""
    return _out(await waitlist.unsubscribe(subscription_id, body.token))


@router.get(
    "/booking/v1/waitlist/{subscription_id}/offer",
    response_model=OfferOut,
    responses=problem_responses(SubscriptionNotFound, NoOffer, ValidationFailed),
)
async def get_offer(
    subscription_id: uuid.UUID, token: LinkToken, waitlist: WaitlistDep, language: LanguageDep
) -> OfferOut:
    """The seat held for the subscriber, by the offer mail's link; changes nothing."""
    return await waitlist.offer(subscription_id, token, language)


@router.post(
    "/booking/v1/waitlist/{subscription_id}/offer",
    response_model=BookingOut,
    responses=problem_responses(
        SubscriptionNotFound,
        NoOffer,
        BookingNotFound,
        HoldExpired,
        BookingLimitReached,
        ValidationFailed,
    ),
)
async def accept_offer(
    subscription_id: uuid.UUID, body: LinkTokenIn, waitlist: WaitlistDep, language: LanguageDep
) -> BookingOut:
    """Book the held seat by the offer mail's token (repeating it changes nothing); the
    confirmation with the invitation and the manage link is mailed."""
    return await waitlist.accept(subscription_id, body.token, language)
