from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from booking.access import NotAdministrator, TenantAdmin
from booking.bookings.dependencies import BookingsDep
from booking.bookings.schemas import EMAIL_PATTERN
from booking.retention.service import erase_expired, erase_person
from booking.settings import SettingsDep
from servicekit.auth import (
    AUTH_PROBLEMS,
    InvalidToken,
    Principal,
    TokenKeysUnavailable,
    require_roles,
)
from servicekit.db import utcnow
from servicekit.dependencies import DatabaseDep, OutboxDep
from servicekit.problems import ValidationFailed, problem_responses
from servicekit.tenancy import AgsPath, NotYourMunicipality

router = APIRouter(tags=["retention"])


class EraseOut(BaseModel):
    erased: int = Field(description="Bookings whose personal data this run erased")


class ErasureIn(BaseModel):
    """The citizen who asked to be erased: by account, by e-mail address, or both."""

    model_config = ConfigDict(extra="forbid")

    citizen_subject: str | None = Field(
        default=None, min_length=1, max_length=200, description="Their account (token subject)"
    )
    email: Annotated[str, StringConstraints(pattern=EMAIL_PATTERN, max_length=320)] | None = None

    @model_validator(mode="after")
    def names_someone(self) -> ErasureIn:
        if self.citizen_subject is None and self.email is None:
            raise ValueError("name the citizen by citizen_subject, email or both")
        return self


class ErasureOut(BaseModel):
    cancelled: int = Field(description="Bookings still ahead that were cancelled (seats freed)")
    erased: int = Field(description="Bookings whose data about the citizen was erased")
    booking_ids: list[uuid.UUID] = Field(
        description="Those bookings: POST them to documents' erasure as well"
    )


@router.post(
    "/booking/v1/retention/erase",
    response_model=EraseOut,
    responses=problem_responses(*AUTH_PROBLEMS, TokenKeysUnavailable, ValidationFailed),
)
async def erase(
    principal: Annotated[Principal, require_roles("admin", "platform_admin")],
    database: DatabaseDep,
    settings: SettingsDep,
    all_tenants: Annotated[
        bool, Query(description="Every tenant's bookings (platform administrators only)")
    ] = False,
) -> EraseOut:
    """Erase the citizens' data of bookings past their retention period (idempotent, safe
    concurrently); the appointments themselves stay for the statistics."""
    erased = await erase_expired(
        database.sessionmaker,
        settings,
        now=utcnow(),
        tenant=principal.tenant_in_reach(all_tenants),
    )
    return EraseOut(erased=erased)


@router.post(
    "/booking/v1/tenants/{ags}/erasures",
    response_model=ErasureOut,
    responses=problem_responses(
        InvalidToken, NotAdministrator, NotYourMunicipality, ValidationFailed
    ),
)
async def erase_citizen(
    ags: AgsPath,
    body: ErasureIn,
    admin: TenantAdmin,
    bookings: BookingsDep,
    outbox: OutboxDep,
) -> ErasureOut:
    """Erase a citizen on their request (administrators): their bookings still ahead are
    cancelled, and no booking of theirs keeps their name, address, phone, account or manage
    link. The answer names the bookings; so does the event ``citizen.erased``, on which
    documents deletes their documents. Repeating it finds nothing more."""
    found = await erase_person(bookings, outbox, ags, admin, body.citizen_subject, body.email)
    return ErasureOut(cancelled=found.cancelled, erased=found.erased, booking_ids=found.booking_ids)
