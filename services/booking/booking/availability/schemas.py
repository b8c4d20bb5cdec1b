from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field


class AvailableDay(BaseModel):
    date: date
    office_ids: list[uuid.UUID]


class AvailableDays(BaseModel):
    """Local days with at least one free slot for the requested services."""

    month: str
    service_ids: list[uuid.UUID]
    days: list[AvailableDay]


class FreeSlot(BaseModel):
    office_id: uuid.UUID
    start: AwareDatetime
    end: AwareDatetime
    mode: Literal["in_person", "video"] = Field(
        default="in_person",
        description="in_person at the office, or video in the booking's consultation room",
    )


class FreeSlots(BaseModel):
    """Free slots of a local day, ``[start, end)``, earliest first."""

    date: date
    service_ids: list[uuid.UUID]
    slots: list[FreeSlot]
