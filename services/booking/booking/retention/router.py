from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from booking.dependencies import settings_of
from booking.retention.service import erase_expired
from servicekit.auth import AUTH_PROBLEMS, Principal, TokenKeysUnavailable, require_roles
from servicekit.db import utcnow
from servicekit.problems import ValidationFailed, problem_responses

router = APIRouter(prefix="/booking/v1/retention", tags=["retention"])


class EraseOut(BaseModel):
    erased: int = Field(description="Bookings whose personal data this run erased")


@router.post(
    "/erase",
    response_model=EraseOut,
    responses=problem_responses(*AUTH_PROBLEMS, TokenKeysUnavailable, ValidationFailed),
)
async def erase(
    request: Request,
    principal: Annotated[Principal, require_roles("admin", "platform_admin")],
    all_tenants: Annotated[
        bool, Query(description="Every tenant's bookings (platform administrators only)")
    ] = False,
) -> EraseOut:
    """Erase the citizens' data of bookings past their retention period (idempotent, safe
    concurrently); the appointments themselves stay for the statistics."""
    erased = await erase_expired(
        request.app.state.database.sessionmaker,
        settings_of(request),
        now=utcnow(),
        tenant=principal.tenant_in_reach(all_tenants),
    )
    return EraseOut(erased=erased)
