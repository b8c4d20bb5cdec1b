from __future__ import annotations

import uuid
from datetime import date, time
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from booking.hours.calendar import WeeklyRule
from booking.hours.models import Closure, Holiday, OpeningRule
from servicekit.datetimes import RequestDate, RequestDatetime

WallTime = Annotated[
    time,
    # Not JSON Schema's ``format: time``: that is RFC 3339's full-time, which has an offset, and
    # a wall time has none (one is refused).
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$",
            "examples": ["08:00"],
        }
    ),
    Field(
        description="Local wall time of the office without an offset: HH:MM (or HH:MM:SS) "
        "in, HH:MM:SS out"
    ),
]


def _naive(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError("opening hours are local wall times: give no offset")
    return value


class Break(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: WallTime
    end: WallTime

    @model_validator(mode="after")
    def _ordered(self) -> Break:
        _naive(self.start)
        _naive(self.end)
        if self.end <= self.start:
            raise ValueError("a break ends after it starts")
        return self


class OpeningRuleIn(BaseModel):
    """Weekly opening hours in the office's local time, valid for ``[valid_from, valid_until)``."""

    model_config = ConfigDict(extra="forbid")

    weekday: int = Field(ge=1, le=7, description="ISO weekday: 1 = Monday ... 7 = Sunday")
    opens: WallTime
    closes: WallTime
    breaks: list[Break] = Field(default_factory=list, max_length=10)
    valid_from: RequestDate
    valid_until: RequestDate | None = Field(
        default=None, description="First day it no longer applies"
    )

    @model_validator(mode="after")
    def _consistent(self) -> OpeningRuleIn:
        _naive(self.opens)
        _naive(self.closes)
        if self.closes <= self.opens:
            raise ValueError("closes must be after opens (same local day)")
        for item in self.breaks:
            if item.start < self.opens or item.end > self.closes:
                raise ValueError("breaks lie within the opening hours")
        if self.valid_until is not None and self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        return self


class OpeningRuleOut(OpeningRuleIn):
    id: uuid.UUID

    @classmethod
    def of(cls, rule: OpeningRule) -> OpeningRuleOut:
        return cls(
            id=rule.id,
            weekday=rule.weekday,
            opens=rule.opens,
            closes=rule.closes,
            breaks=[
                Break(start=time.fromisoformat(b["start"]), end=time.fromisoformat(b["end"]))
                for b in rule.breaks
            ],
            valid_from=rule.valid_from,
            valid_until=rule.valid_until,
        )


def weekly_rule(rule: OpeningRule) -> WeeklyRule:
    return WeeklyRule(
        weekday=rule.weekday,
        opens=rule.opens,
        closes=rule.closes,
        breaks=tuple(
            (time.fromisoformat(b["start"]), time.fromisoformat(b["end"])) for b in rule.breaks
        ),
        valid_from=rule.valid_from,
        valid_until=rule.valid_until,
    )


class OpeningHoursIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[OpeningRuleIn] = Field(max_length=100)


class ClosureIn(BaseModel):
    """The office is closed for ``[starts_at, ends_at)``."""

    model_config = ConfigDict(extra="forbid")

    starts_at: RequestDatetime
    ends_at: RequestDatetime
    reason: Annotated[str, StringConstraints(max_length=200)] = ""

    @model_validator(mode="after")
    def _ordered(self) -> ClosureIn:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class ClosureOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    reason: str

    @classmethod
    def of(cls, closure: Closure) -> ClosureOut:
        return cls.model_validate(closure)


class HolidayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class HolidayOut(BaseModel):
    day: date
    name: str
    source: Literal["municipality", "land"] = Field(
        description=(
            "municipality: declared here, every office is closed; land: a public holiday of the "
            "Land by law, the offices that open on public holidays stay open"
        )
    )

    @classmethod
    def of(cls, holiday: Holiday) -> HolidayOut:
        return cls(day=holiday.day, name=holiday.name, source="municipality")


class HolidayList(BaseModel):
    items: list[HolidayOut] = Field(
        description="By day; a day the municipality declares is listed once, as its own"
    )


class OpeningHoursOut(BaseModel):
    office_id: uuid.UUID
    time_zone: str
    rules: list[OpeningRuleOut]
    closures: list[ClosureOut] = Field(description="Closures that have not ended yet")


_CANCELLED = Field(
    description=(
        "Confirmed bookings ahead that collided with the change: each was cancelled by the "
        "municipality and its citizen mailed the earliest alternative"
    )
)


class OpeningHoursChanged(OpeningHoursOut):
    cancelled_bookings: int = _CANCELLED


class ClosureAdded(ClosureOut):
    cancelled_bookings: int = _CANCELLED


class HolidaySet(HolidayOut):
    cancelled_bookings: int = _CANCELLED
