from __future__ import annotations

import uuid
from typing import Annotated, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from booking.offices.models import Office

SLOT_MINUTES = (5, 10, 15, 20, 30, 60)


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid")

    street: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    postal_code: Annotated[str, StringConstraints(pattern=r"^[0-9]{5}$")]
    city: Annotated[str, StringConstraints(min_length=1, max_length=100)]


class GeoPoint(BaseModel):
    model_config = ConfigDict(extra="forbid")

    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)


class OfferedService(BaseModel):
    """A catalogue service offered at the office; ``duration_minutes`` overrides the usual one."""

    model_config = ConfigDict(extra="forbid")

    service_id: uuid.UUID
    duration_minutes: int | None = Field(default=None, ge=5, le=480)
    mode: Literal["in_person", "video"] = Field(
        default="in_person",
        description="in_person at the office, or video in the booking's consultation room",
    )


class OfficeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    address: Address
    location: GeoPoint | None = None
    time_zone: str = Field(default="Europe/Berlin", description="IANA time zone of the office")
    counters: int = Field(ge=1, le=100, description="Counters serving appointments in parallel")
    slot_minutes: int = Field(
        default=10,
        description="Grid of appointment start times: one of 5, 10, 15, 20, 30, 60",
        json_schema_extra={"enum": list(SLOT_MINUTES)},
    )
    bookable_from_days: int = Field(
        default=0, ge=0, le=365, description="Earliest bookable day, in days from today"
    )
    bookable_until_days: int = Field(
        default=60,
        ge=1,
        le=730,
        description="End of the bookable window in days from today (exclusive)",
    )
    opens_on_public_holidays: bool = Field(
        default=False,
        description=(
            "Offers appointments on the public holidays of the municipality's Land (by default "
            "it is closed on them); a holiday the municipality declares closes it all the same"
        ),
    )
    services: list[OfferedService] = Field(default_factory=list, max_length=200)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("not an IANA time zone") from exc
        return value

    @field_validator("slot_minutes")
    @classmethod
    def _grid(cls, value: int) -> int:
        if value not in SLOT_MINUTES:
            raise ValueError(f"must be one of {', '.join(map(str, SLOT_MINUTES))}")
        return value

    @model_validator(mode="after")
    def _window(self) -> OfficeIn:
        if self.bookable_until_days <= self.bookable_from_days:
            raise ValueError("bookable_until_days must be greater than bookable_from_days")
        if len({s.service_id for s in self.services}) != len(self.services):
            raise ValueError("a service is offered once per office")
        return self


class OfferedServiceOut(BaseModel):
    service_id: uuid.UUID
    duration_minutes: int = Field(description="Duration at this office")
    mode: Literal["in_person", "video"] = Field(
        default="in_person", description="How the office serves it: in person, or by video"
    )


class OfficeOut(BaseModel):
    id: uuid.UUID
    tenant: str
    name: str
    address: Address
    location: GeoPoint | None
    time_zone: str
    counters: int
    slot_minutes: int
    bookable_from_days: int
    bookable_until_days: int
    opens_on_public_holidays: bool
    services: list[OfferedServiceOut]

    @classmethod
    def of(cls, office: Office, durations: dict[uuid.UUID, int]) -> OfficeOut:
        location = None
        if office.latitude is not None and office.longitude is not None:
            location = GeoPoint(latitude=office.latitude, longitude=office.longitude)
        return cls(
            id=office.id,
            tenant=office.tenant,
            name=office.name,
            address=Address(street=office.street, postal_code=office.postal_code, city=office.city),
            location=location,
            time_zone=office.time_zone,
            counters=office.counters,
            slot_minutes=office.slot_minutes,
            bookable_from_days=office.bookable_from_days,
            bookable_until_days=office.bookable_until_days,
            opens_on_public_holidays=office.opens_on_public_holidays,
            services=[
                OfferedServiceOut(
                    service_id=offered.service_id,
                    duration_minutes=offered.duration_minutes or durations[offered.service_id],
                    mode=cast(Literal["in_person", "video"], offered.mode),
                )
                for offered in sorted(office.services, key=lambda o: str(o.service_id))
            ],
        )


class OfficeList(BaseModel):
    items: list[OfficeOut]
