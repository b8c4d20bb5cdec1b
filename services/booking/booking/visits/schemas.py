from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from booking.availability.schemas import MAX_SERVICES

VisitStatus = Literal["waiting", "called", "completed"]


class VisitOut(BaseModel):
    """A booking's visit: checked in, called to a counter, completed."""

    booking_id: uuid.UUID
    code: str = Field(description="The booking code, shown when the citizen is called")
    office_id: uuid.UUID
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    status: VisitStatus
    walk_in: bool = Field(description="Registered at the desk without an appointment")
    checked_in_at: AwareDatetime
    waiting_ahead: int | None = Field(
        description="Citizens of the office's queue called before this one (while waiting)"
    )
    called_at: AwareDatetime | None
    counter: str | None
    completed_at: AwareDatetime | None
    resolved: bool | None = Field(description="Settled at this visit (first-contact resolution)")
    rating: int | None


class Queue(BaseModel):
    """An office's queue of today (its local day): waiting in call order, then the called."""

    office_id: uuid.UUID
    date: date
    time_zone: str
    waiting: list[VisitOut]
    called: list[VisitOut] = Field(description="Called to a counter and not completed yet")


class BoardCall(BaseModel):
    code: str
    counter: str
    called_at: AwareDatetime


class Board(BaseModel):
    """What the office's waiting-room display shows: booking codes and counters, no names."""

    office_id: uuid.UUID
    date: date
    waiting: int = Field(description="Citizens checked in and not called yet")
    calls: list[BoardCall] = Field(description="Today's latest calls, newest first")


Counter = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]


class WalkInIn(BaseModel):
    """A citizen without an appointment, registered at the desk: queued like an appointment
    that begins now (holding no seat of the online slots)."""

    model_config = ConfigDict(extra="forbid")

    service_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_SERVICES)
    name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
        | None
    ) = Field(default=None, description="How to address the citizen, if they give a name")


class CallIn(BaseModel):
    """Call the next waiting citizen to a counter."""

    model_config = ConfigDict(extra="forbid")

    counter: Counter = Field(description="Where the citizen is to go, as shown on the display")


class CompleteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resolved: bool = Field(
        description="The concern was settled at this visit (no second visit needed)"
    )


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rating: int = Field(ge=1, le=5, description="1 (very dissatisfied) to 5 (very satisfied)")


class Distribution(BaseModel):
    """How many values, their mean, median and 90th percentile (durations in minutes)."""

    count: int
    mean: float | None
    p50: float | None
    p90: float | None


class RemoteVisits(BaseModel):
    """Video appointments (in the booking's consultation room), counted apart as well."""

    appointments: int = Field(description="Confirmed video appointments in the period")
    completed: int = Field(description="Of those, completed visits")
    minutes: float = Field(description="Minutes of the completed video visits, call to completion")


class Kpis(BaseModel):
    """What a municipality steers its offices by, over confirmed appointments of a period."""

    date_from: date
    date_to: date
    office_id: uuid.UUID | None
    service_id: uuid.UUID | None
    appointments: int = Field(description="Confirmed appointments in the period (no walk-ins)")
    ended: int = Field(description="Of those, appointments whose time has passed")
    checked_in: int = Field(description="Of the appointments, those checked in")
    walk_ins: int = Field(description="Citizens registered at the desk without an appointment")
    no_shows: int = Field(description="Ended appointments without a check-in")
    no_show_rate: float | None = Field(description="no_shows / ended")
    waiting: Distribution = Field(
        description=(
            "From check-in (or the appointment's start, if later) to the call; walk-ins included"
        )
    )
    processing: Distribution = Field(description="From the call to completion")
    completed: int
    first_contact_resolution_rate: float | None = Field(
        description="Completed visits that settled the concern / completed visits"
    )
    satisfaction: Distribution = Field(description="The citizens' ratings, 1 to 5")
    staff_minutes_saved: float = Field(
        description=(
            "Booked minutes not needed: the sum over completed visits of the booked duration "
            "minus the processing time (where positive); prepared citizens are what shortens it"
        )
    )
    remote: RemoteVisits = Field(
        default_factory=lambda: RemoteVisits(appointments=0, completed=0, minutes=0.0),
        description="The video appointments among them, apart (also counted above)",
    )
