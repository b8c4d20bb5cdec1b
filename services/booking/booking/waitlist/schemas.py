from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from booking.bookings.schemas import EMAIL_PATTERN, BookingOut
from servicekit.datetimes import RequestDate

SubscriptionStatusName = Literal["pending", "waiting", "offered", "booked", "ended"]


class SubscriptionIn(BaseModel):
    """Wait for a seat of one service, at one office or any office of the municipality."""

    model_config = ConfigDict(extra="forbid")

    service_id: uuid.UUID
    office_id: uuid.UUID | None = Field(default=None, description="Default: any office")
    first_day: RequestDate = Field(description="The first local day an appointment may be on")
    last_day: RequestDate = Field(description="The last local day an appointment may be on")
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    email: Annotated[
        str, StringConstraints(strip_whitespace=True, pattern=EMAIL_PATTERN, max_length=320)
    ]


class LinkTokenIn(BaseModel):
    """The token of a mailed waitlist link (from its fragment ``#token=``)."""

    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=16, max_length=200)


class SubscriptionOut(BaseModel):
    id: uuid.UUID
    tenant: str
    service_id: uuid.UUID
    office_id: uuid.UUID | None
    first_day: date
    last_day: date
    status: SubscriptionStatusName = Field(
        description=(
            "pending: the mailed link confirms the address; waiting: in the queue; offered: a "
            "seat is held for the subscriber; booked; ended: unsubscribed or over"
        )
    )
    created_at: AwareDatetime
    offer_expires_at: AwareDatetime | None


class OfferOut(BaseModel):
    """A freed seat held for a subscriber until ``expires_at`` (none once booked)."""

    subscription_id: uuid.UUID
    status: SubscriptionStatusName
    expires_at: AwareDatetime | None
    booking: BookingOut
