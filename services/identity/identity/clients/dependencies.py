from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from identity.audit.dependencies import AuditDep
from identity.clients.repository import ClientRepository
from identity.clients.service import ClientService
from identity.clock import ClockDep
from identity.tenants.dependencies import TenantServiceDep
from servicekit.dependencies import SessionDep


async def client_service(
    session: SessionDep, tenants: TenantServiceDep, audit: AuditDep, clock: ClockDep
) -> ClientService:
    return ClientService(ClientRepository(session), tenants, audit, clock)


ClientServiceDep = Annotated[ClientService, Depends(client_service)]
