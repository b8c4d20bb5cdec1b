from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from documents.retention.dependencies import RetentionDep
from documents.retention.schemas import ErasureIn, ErasureOut, PurgeOut
from servicekit.auth import (
    AUTH_PROBLEMS,
    Principal,
    TokenKeysUnavailable,
    require_roles,
)
from servicekit.db import utcnow
from servicekit.problems import ValidationFailed, problem_responses
from servicekit.tenancy import AgsPath, NotYourMunicipality

router = APIRouter(tags=["retention"])


@router.post(
    "/documents/v1/retention/purge",
    response_model=PurgeOut,
    responses=problem_responses(*AUTH_PROBLEMS, TokenKeysUnavailable, ValidationFailed),
)
async def purge(
    retention: RetentionDep,
    principal: Annotated[Principal, require_roles("admin", "platform_admin")],
    all_tenants: Annotated[
        bool, Query(description="Every tenant's documents (platform administrators only)")
    ] = False,
) -> PurgeOut:
    """Delete documents whose retention period has passed (idempotent, safe concurrently)."""
    purged = await retention.purge_expired(
        now=utcnow(), tenant=principal.tenant_in_reach(all_tenants)
    )
    return PurgeOut(purged=purged)


@router.post(
    "/documents/v1/tenants/{ags}/erasures",
    response_model=ErasureOut,
    responses=problem_responses(
        *AUTH_PROBLEMS, NotYourMunicipality, TokenKeysUnavailable, ValidationFailed
    ),
)
async def erase(
    ags: AgsPath,
    body: ErasureIn,
    retention: RetentionDep,
    admin: Annotated[Principal, require_roles("admin")],
) -> ErasureOut:
    """Delete the documents of a citizen's bookings on their request (administrators of the
    municipality; the bookings as booking's erasure names them). Repeating it deletes nothing
    more."""
    if admin.tenant != ags:
        raise NotYourMunicipality(f"No municipality {ags} among yours.")
    deleted = await retention.erase_bookings(
        tenant=ags,
        booking_ids=[str(booking_id) for booking_id in body.booking_ids],
    )
    return ErasureOut(deleted=deleted)
