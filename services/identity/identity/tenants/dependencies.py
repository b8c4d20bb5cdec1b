from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from identity.tenants.repository import TenantRepository
from identity.tenants.service import TenantService
from servicekit.dependencies import SessionDep


async def tenant_service(session: SessionDep) -> TenantService:
    return TenantService(TenantRepository(session))


TenantServiceDep = Annotated[TenantService, Depends(tenant_service)]
