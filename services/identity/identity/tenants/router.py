from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from identity.audit.dependencies import AuditDep, ClientIpDep
from identity.audit.service import Actor, AuditAction
from identity.tenants.access import ensure_manages_tenant
from identity.tenants.dependencies import TenantServiceDep
from identity.tenants.errors import TenantExists, TenantNotFound
from identity.tenants.schemas import (
    AGS_PATTERN,
    TenantIn,
    TenantList,
    TenantOut,
    TenantSettingsPatch,
)
from servicekit.auth import AUTH_PROBLEMS, Principal, require_roles
from servicekit.problems import ValidationFailed, problem_responses

router = APIRouter(prefix="/identity/v1/tenants", tags=["tenants"])


@router.get("", response_model=TenantList)
async def list_tenants(service: TenantServiceDep) -> TenantList:
    """The municipalities this Rathaus serves."""
    tenants = await service.list()
    return TenantList(items=[TenantOut.model_validate(t) for t in tenants])


@router.get(
    "/{ags}",
    response_model=TenantOut,
    responses=problem_responses(TenantNotFound, ValidationFailed),
)
async def get_tenant(
    ags: Annotated[str, Path(pattern=AGS_PATTERN, description="Amtlicher Gemeindeschlüssel")],
    service: TenantServiceDep,
) -> TenantOut:
    """One municipality by its AGS."""
    return TenantOut.model_validate(await service.get(ags))


@router.post(
    "",
    status_code=201,
    response_model=TenantOut,
    responses=problem_responses(*AUTH_PROBLEMS, TenantExists, ValidationFailed),
)
async def create_tenant(
    body: TenantIn,
    service: TenantServiceDep,
    admin: Annotated[Principal, require_roles("platform_admin")],
    audit: AuditDep,
    ip: ClientIpDep,
) -> TenantOut:
    """Serve a new municipality (platform admins)."""
    tenant = await service.create(body.ags, body.name)
    await audit.record(
        AuditAction.TENANT_CREATED, actor=Actor(admin.subject, ip), tenant=tenant.ags
    )
    return TenantOut.model_validate(tenant)


@router.patch(
    "/{ags}/settings",
    response_model=TenantOut,
    responses=problem_responses(*AUTH_PROBLEMS, TenantNotFound, ValidationFailed),
)
async def update_tenant_settings(
    ags: Annotated[str, Path(pattern=AGS_PATTERN, description="Amtlicher Gemeindeschlüssel")],
    body: TenantSettingsPatch,
    service: TenantServiceDep,
    admin: Annotated[Principal, require_roles("admin", "platform_admin")],
    audit: AuditDep,
    ip: ClientIpDep,
) -> TenantOut:
    """Change the municipality's settings (its admins)."""
    ensure_manages_tenant(admin, ags)
    tenant = await service.update_settings(ags, body)
    await audit.record(
        AuditAction.TENANT_SETTINGS,
        actor=Actor(admin.subject, ip),
        tenant=ags,
        details={"changed": sorted(body.model_dump(exclude_none=True))},
    )
    return TenantOut.model_validate(tenant)
