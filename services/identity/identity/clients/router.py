from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from identity.audit.dependencies import ClientIpDep
from identity.audit.service import Actor
from identity.clients.dependencies import ClientServiceDep
from identity.clients.schemas import (
    PartnerClientCreated,
    PartnerClientIn,
    PartnerClientList,
    PartnerClientOut,
)
from identity.tenants.access import ensure_manages_tenant
from identity.tenants.errors import TenantNotFound
from servicekit.auth import AUTH_PROBLEMS, Principal, require_roles
from servicekit.problems import ValidationFailed, problem_responses
from servicekit.tenancy import AgsPath

router = APIRouter(prefix="/identity/v1/tenants/{ags}/clients", tags=["partner clients"])

Admin = Annotated[Principal, require_roles("admin", "platform_admin")]


@router.post(
    "",
    status_code=201,
    response_model=PartnerClientCreated,
    responses=problem_responses(*AUTH_PROBLEMS, TenantNotFound, ValidationFailed),
)
async def create_partner_client(
    ags: AgsPath, body: PartnerClientIn, admin: Admin, service: ClientServiceDep, ip: ClientIpDep
) -> PartnerClientCreated:
    """Register an OAuth2 client (a partner authority's, or a frontend's with redirect URIs);
    its secret is shown only in this answer."""
    ensure_manages_tenant(admin, ags)
    client, secret = await service.create(
        ags,
        body.name,
        body.scopes,
        Actor(admin.subject, ip),
        redirect_uris=body.redirect_uris,
        first_party=body.first_party,
        public=body.public,
    )
    return PartnerClientCreated(
        **PartnerClientOut.of(client).model_dump(), client_secret=secret or ""
    )


@router.get(
    "",
    response_model=PartnerClientList,
    responses=problem_responses(*AUTH_PROBLEMS, TenantNotFound, ValidationFailed),
)
async def list_partner_clients(
    ags: AgsPath, admin: Admin, service: ClientServiceDep
) -> PartnerClientList:
    """The municipality's partner clients (never their secrets)."""
    ensure_manages_tenant(admin, ags)
    clients = await service.list(ags)
    return PartnerClientList(items=[PartnerClientOut.of(client) for client in clients])
