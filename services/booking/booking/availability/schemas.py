from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

MAX_SERVICES = 5
"""The most services one appointment combines, as the contract says (a deployment may set
fewer: ``BOOKING_MAX_SERVICES_PER_BOOKING``, answered with too-many-services)."""


class AvailableDay(BaseModel):
    date: date
    office_ids: list[uuid.UUID]


class AvailableDays(BaseModel):
    """Local days with at least one free slot for the requested services."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "month": "2026-12",
                    "service_ids": ["5f0c8a1e-2b7d-4e6a-8f43-9d2e1c7b6a55"],
                    "days": [
                        {
                            "date": "2026-12-14",
                            "office_ids": ["0b6f2f3e-5d8a-4c41-9a57-3f1f6f0c2a10"],
                        }
                    ],
                }
            ]
        }
    )

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

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "date": "2026-12-14",
                    "service_ids": ["5f0c8a1e-2b7d-4e6a-8f43-9d2e1c7b6a55"],
                    "slots": [
                        {
                            "office_id": "0b6f2f3e-5d8a-4c41-9a57-3f1f6f0c2a10",
                            "start": "2026-12-14T08:30:00Z",
                            "end": "2026-12-14T08:45:00Z",
                        }
                    ],
                }
            ]
        }
    )

    date: date
    service_ids: list[uuid.UUID]
    slots: list[FreeSlot]
