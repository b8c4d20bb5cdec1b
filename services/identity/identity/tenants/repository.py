from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from identity.tenants.models import Tenant


class TenantRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, ags: str) -> Tenant | None:
        return await self.session.get(Tenant, ags)

    async def list(self) -> Sequence[Tenant]:
        result = await self.session.scalars(select(Tenant).order_by(Tenant.ags))
        return result.all()

    async def add(self, tenant: Tenant) -> Tenant:
        self.session.add(tenant)
        await self.session.flush()
        return tenant

    async def flush(self) -> None:
        await self.session.flush()
