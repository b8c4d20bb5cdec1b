from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response

from booking.availability.dependencies import CachedAnswersDep
from booking.availability.errors import TooManyServices
from booking.availability.schemas import (
    MAX_SERVICES,
    AvailableDay,
    AvailableDays,
    FreeSlot,
    FreeSlots,
)
from booking.catalogue.errors import ServiceNotFound
from servicekit.datetimes import RequestDate
from servicekit.db import utcnow
from servicekit.problems import ValidationFailed, problem_responses
from servicekit.tenancy import AgsPath

router = APIRouter(prefix="/booking/v1/tenants/{ags}/availability", tags=["availability"])

ServiceIds = Annotated[
    list[uuid.UUID],
    Query(
        alias="service_id",
        max_length=MAX_SERVICES,
        description="One or more services; their durations add up",
    ),
]
OfficeIds = Annotated[
    list[uuid.UUID] | None,
    Query(alias="office_id", description="Only these offices (default: every office)"),
]


@router.get(
    "/days",
    response_model=AvailableDays,
    responses=problem_responses(ServiceNotFound, TooManyServices, ValidationFailed),
)
async def available_days(
    ags: AgsPath,
    answers: CachedAnswersDep,
    service_ids: ServiceIds,
    month: Annotated[str, Query(pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])$", examples=["2026-12"])],
    office_ids: OfficeIds = None,
) -> Response:
    """The days of a month with a free slot, and at which offices."""
    year, number = (int(part) for part in month.split("-"))
    first = date(year, number, 1)
    end = date(year + (number == 12), number % 12 + 1, 1)

    async def compute() -> bytes:
        async with answers.planner() as planner:
            days = await planner.available_days(
                ags, service_ids, office_ids or [], first, end, utcnow()
            )
        return (
            AvailableDays(
                month=month,
                service_ids=list(dict.fromkeys(service_ids)),
                days=[
                    AvailableDay(date=d, office_ids=offices) for d, offices in sorted(days.items())
                ],
            )
            .model_dump_json()
            .encode()
        )

    key = ("days", month, tuple(service_ids), tuple(sorted(office_ids or [])))
    return Response(await answers.answer(ags, key, compute), media_type="application/json")


@router.get(
    "/slots",
    response_model=FreeSlots,
    responses=problem_responses(ServiceNotFound, TooManyServices, ValidationFailed),
)
async def free_slots(
    ags: AgsPath,
    answers: CachedAnswersDep,
    service_ids: ServiceIds,
    day: Annotated[RequestDate, Query(alias="date", description="A local day of the offices")],
    office_ids: OfficeIds = None,
) -> Response:
    """The free slots of a day across the offices offering every requested service."""

    async def compute() -> bytes:
        async with answers.planner() as planner:
            slots = await planner.free_slots(ags, service_ids, office_ids or [], day, utcnow())
        return (
            FreeSlots(
                date=day,
                service_ids=list(dict.fromkeys(service_ids)),
                slots=[
                    FreeSlot.model_validate(
                        {"office_id": s.office_id, "start": s.start, "end": s.end, "mode": s.mode}
                    )
                    for s in slots
                ],
            )
            .model_dump_json()
            .encode()
        )

    key = ("slots", day, tuple(service_ids), tuple(sorted(office_ids or [])))
    return Response(await answers.answer(ags, key, compute), media_type="application/json")
