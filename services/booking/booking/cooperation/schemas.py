from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SecretStr, StringConstraints

from booking.access import SEARCH_SCOPE
from booking.bookings.schemas import BookingOut, ChecklistItem
from booking.catalogue.schemas import Leika
from booking.cooperation.models import Partner
from servicekit.auth import Scope
from servicekit.tenancy import Ags

BaseUrl = Annotated[
    str,
    StringConstraints(pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$", max_length=500),
    Field(
        description="Where the partner's Rathaus answers (its gateway), without a trailing /",
        examples=["https://rathaus.nachbarstadt.example"],
    ),
]


class PartnerCredentialsIn(BaseModel):
    """The OAuth2 client the partner registered for us at its identity (client credentials)."""

    model_config = ConfigDict(extra="forbid")

    issuer: BaseUrl = Field(
        description="The partner's identity; its OpenID discovery document names the token "
        "endpoint",
        examples=["https://rathaus.nachbarstadt.example/identity"],
    )
    client_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    client_secret: SecretStr = Field(
        min_length=1, max_length=500, description="Stored sealed; never shown again"
    )
    scopes: list[Scope] = Field(default=[SEARCH_SCOPE], min_length=1, max_length=16)


class PartnerCredentialsOut(BaseModel):
    issuer: str
    client_id: str
    scopes: list[str]


class PartnerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    base_url: BaseUrl
    credentials: PartnerCredentialsIn | None = Field(
        default=None,
        description="How we sign in at the partner (None: its routes are called without a "
        "token, which a partner that requires one answers 401)",
    )


class HandoverGrantIn(BaseModel):
    """Which booking's case is to go to the partner."""

    model_config = ConfigDict(extra="forbid")

    booking_id: uuid.UUID = Field(description="The booking whose case is handed over")


class GrantedPartner(BaseModel):
    ags: Ags
    name: str
    base_url: str = Field(description="Where the partner's Rathaus answers")


class HandoverGrant(BaseModel):
    """Yes to handing a booking's case to a partner: what documents sends along (the booking
    and its checklist) and how (a token of the partner's identity holding
    ``cases:handover``, from our cached client-credentials tokens)."""

    booking: BookingOut
    checklist: list[ChecklistItem]
    partner: GrantedPartner
    access_token: str = Field(description="Bearer token for the partner's hand-over routes")


class PartnerOut(BaseModel):
    ags: Ags
    name: str
    base_url: str
    credentials: PartnerCredentialsOut | None = Field(
        default=None, description="The client we use at the partner (its secret is not shown)"
    )
    last_asked_at: AwareDatetime | None = Field(
        default=None, description="When a search last asked the partner (None: never)"
    )
    last_outcome: str | None = Field(
        default=None,
        description="How that went: answered, not offered, or why the partner was unavailable",
        examples=[
            "answered",
            "timeout",
            "refused: rathaus.example (10.0.0.5) is a private address, which is not called",
        ],
    )

    @classmethod
    def of(cls, partner: Partner) -> PartnerOut:
        credentials = None
        if partner.issuer and partner.client_id:
            credentials = PartnerCredentialsOut(
                issuer=partner.issuer,
                client_id=partner.client_id,
                scopes=(partner.scopes or "").split(),
            )
        return cls(
            ags=partner.ags,
            name=partner.name,
            base_url=partner.base_url,
            credentials=credentials,
            last_asked_at=partner.last_asked_at,
            last_outcome=partner.last_outcome,
        )


class PartnersOut(BaseModel):
    items: list[PartnerOut]


class EarliestAppointment(BaseModel):
    service_id: uuid.UUID
    office_id: uuid.UUID
    start: AwareDatetime
    end: AwareDatetime


class EarliestOut(BaseModel):
    """The earliest free appointment of one municipality for a service, if any is bookable."""

    tenant: Ags
    leika: Leika
    appointment: EarliestAppointment | None = Field(
        description="None: the service is offered, but no slot is free within the horizon"
    )


class MunicipalityAppointment(EarliestAppointment):
    tenant: Ags
    municipality: str | None = Field(description="The partner's name (None: this municipality)")
    base_url: str | None = Field(description="Where to book it (None: here)")


class Unavailable(BaseModel):
    tenant: Ags
    municipality: str
    reason: str = Field(
        description="Always 'unavailable' here; why is in the administrator's partner list",
        examples=["unavailable"],
    )


class SearchOut(BaseModel):
    """The earliest appointments for a service here and at the partner municipalities."""

    leika: Leika
    appointments: list[MunicipalityAppointment] = Field(description="Earliest first")
    fully_booked: list[Ags] = Field(
        description="Municipalities offering the service without a free slot in the horizon"
    )
    not_offered: list[Ags] = Field(description="Municipalities without this service")
    unavailable: list[Unavailable] = Field(
        description="Partners that did not answer in time or in shape: the search goes on"
    )
