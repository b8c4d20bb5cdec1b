from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from documents.components import ComponentsDep
from documents.retention.service import purge_expired
from documents.uploads.schemas import PurgeOut
from servicekit.auth import AUTH_PROBLEMS, Principal, TokenKeysUnavailable, require_roles
from servicekit.db import utcnow
from servicekit.problems import ValidationFailed, problem_responses

router = APIRouter(prefix="/documents/v1/retention", tags=["retention"])


@router.post(
    "/purge",
    response_model=PurgeOut,
    responses=problem_responses(*AUTH_PROBLEMS, TokenKeysUnavailable, ValidationFailed),
)
async def purge(
    request: Request,
    components: ComponentsDep,
    principal: Annotated[Principal, require_roles("admin", "platform_admin")],
    all_tenants: Annotated[
        bool, Query(description="Every tenant's documents (platform administrators only)")
    ] = False,
) -> PurgeOut:
    """Delete documents whose retention period has passed (idempotent, safe concurrently)."""
    purged = await purge_expired(
        request.app.state.database.sessionmaker,
        components,
        now=utcnow(),
        tenant=principal.tenant_in_reach(all_tenants),
    )
    return PurgeOut(purged=purged)
