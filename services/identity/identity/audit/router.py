from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from identity.audit.dependencies import AuditDep
from identity.audit.schemas import AuditEventList, AuditEventOut
from identity.tenants.access import ensure_manages_tenant
from identity.tenants.errors import TenantNotFound
from identity.tenants.schemas import AGS_PATTERN
from servicekit.auth import AUTH_PROBLEMS, Principal, require_roles
from servicekit.problems import ValidationFailed, problem_responses

router = APIRouter(prefix="/identity/v1", tags=["audit"])

Admin = Annotated[Principal, require_roles("admin", "platform_admin")]
ActionQuery = Annotated[str | None, Query(max_length=50, description="Only this action")]


@router.get(
    "/tenants/{ags}/audit",
    response_model=AuditEventList,
    responses=problem_responses(*AUTH_PROBLEMS, TenantNotFound, ValidationFailed),
)
async def tenant_audit(
    ags: Annotated[str, Path(pattern=AGS_PATTERN)],
    admin: Admin,
    audit: AuditDep,
    action: ActionQuery = None,
) -> AuditEventList:
    """The newest security events of a municipality (its admins)."""
    ensure_manages_tenant(admin, ags)
    events = await audit.list(tenant=ags, action=action)
    return AuditEventList(items=[AuditEventOut.of(event) for event in events])


@router.get(
    "/audit",
    response_model=AuditEventList,
    responses=problem_responses(*AUTH_PROBLEMS, ValidationFailed),
)
async def platform_audit(
    _admin: Annotated[Principal, require_roles("platform_admin")],
    audit: AuditDep,
    action: ActionQuery = None,
) -> AuditEventList:
    """The newest security events across the platform (platform admins)."""
    events = await audit.list(tenant=None, action=action)
    return AuditEventList(items=[AuditEventOut.of(event) for event in events])
