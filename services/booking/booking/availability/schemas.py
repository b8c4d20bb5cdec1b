from __future__ import annotations

import uuid
from datetime import date

from pydantic import AwareDatetime, BaseModel

MAX_SERVICES = 5
"""The most services one appointment combines, as the contract says (a deployment may set
fewer: ``BOOKING_MAX_SERVICES_PER_BOOKING``, answered with too-many-services)."""


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


class FreeSlots(BaseModel):
    """Free slots of a local day, ``[start, end)``, earliest first."""

    date: date
    service_ids: list[uuid.UUID]
    slots: list[FreeSlot]
