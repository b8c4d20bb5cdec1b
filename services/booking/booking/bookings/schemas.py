from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from booking.availability.schemas import MAX_SERVICES
from booking.catalogue.schemas import Leika
from servicekit.datetimes import RequestDatetime

EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"

BookingStatusName = Literal["held", "expired", "confirmed", "cancelled"]
CancelledByName = Literal["citizen", "staff", "municipality"]


class HoldIn(BaseModel):
    """Hold a slot for one or several services (their durations add up) at one office."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "office_id": "0b6f2f3e-5d8a-4c41-9a57-3f1f6f0c2a10",
                    "service_ids": ["5f0c8a1e-2b7d-4e6a-8f43-9d2e1c7b6a55"],
                    "start": "2026-12-14T08:30:00Z",
                }
            ]
        },
    )

    office_id: uuid.UUID
    service_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_SERVICES)
    start: RequestDatetime = Field(description="A slot start from the availability endpoint")


class ContactIn(BaseModel):
    """The minimum needed to serve and reach the citizen."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Erika Mustermann",
                    "email": "erika.mustermann@example.org",
                    "phone": "+49 30 1234567",
                }
            ]
        },
    )

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    email: Annotated[
        str, StringConstraints(strip_whitespace=True, pattern=EMAIL_PATTERN, max_length=320)
    ]
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ()/-]{4,40}$")] | None = None


class OptInIn(BaseModel):
    """The token of the double opt-in link (from its fragment ``#token=``)."""

    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=16, max_length=200)


class RescheduleIn(BaseModel):
    """Move a confirmed booking; the new slot is taken before the old one is given back."""

    model_config = ConfigDict(extra="forbid")

    start: RequestDatetime
    office_id: uuid.UUID | None = Field(default=None, description="Another office (default: same)")


class OfficeRef(BaseModel):
    id: uuid.UUID
    name: str
    street: str
    postal_code: str
    city: str
    time_zone: str


class BookedService(BaseModel):
    service_id: uuid.UUID
    leika: Leika
    name: str
    duration_minutes: int


class ChecklistItem(BaseModel):
    """A required document of a booked service: what the citizen brings along."""

    id: uuid.UUID = Field(description="Id of the required document (stable across edits)")
    service_id: uuid.UUID
    leika: Leika
    name: str
    description: str
    mandatory: bool
    accepted_formats: list[str]


class Contact(BaseModel):
    name: str
    email: str
    phone: str | None


AppointmentModeName = Literal["in_person", "video"]


class BookingOut(BaseModel):
    id: uuid.UUID
    tenant: str
    code: str = Field(description="Short code the citizen gives at the counter")
    status: BookingStatusName
    office: OfficeRef
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    hold_expires_at: AwareDatetime | None
    services: list[BookedService]
    contact: Contact | None
    checklist: list[ChecklistItem] = Field(description="The pre-information: what to bring")
    created_at: AwareDatetime
    confirmed_at: AwareDatetime | None
    cancelled_at: AwareDatetime | None
    cancelled_by: CancelledByName | None = Field(
        default=None,
        description=(
            "Who cancelled: the citizen, the staff (a clerk or administrator), or the "
            "municipality, whose closure, opening hours or holiday collided with the appointment"
        ),
    )
    cancellation_reason: str | None = Field(
        default=None, description="Why the municipality cancelled (e.g. the closure's reason)"
    )
    mode: AppointmentModeName = Field(
        default="in_person",
        description=(
            "in_person at the office, or video: the citizen and the clerk meet in the "
            "booking's consultation room (documents' call)"
        ),
    )


class HoldOut(BookingOut):
    manage_token: str = Field(
        description=(
            "Secret for managing the booking without an account (header X-Manage-Token). "
            "Shown once: only its hash is stored."
        )
    )


class BookingList(BaseModel):
    items: list[BookingOut]


class Checklist(BaseModel):
    """The checklist of a booking, for the documents service and the citizen."""

    booking_id: uuid.UUID
    tenant: str
    office_id: uuid.UUID
    status: BookingStatusName
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    language: Literal["de", "en"]
    items: list[ChecklistItem]


class DayView(BaseModel):
    office_id: uuid.UUID
    date: date
    time_zone: str
    items: list[BookingOut]


class TenantDayView(BaseModel):
    """Every office's appointments of a local day, earliest first."""

    date: date
    items: list[BookingOut]
