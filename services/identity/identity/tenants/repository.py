from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from identity.tenants.models import Tenant
from servicekit.repository import Repository


class TenantRepository(Repository[Tenant]):
    model = Tenant

    async def list(self) -> Sequence[Tenant]:
        result = await self.session.scalars(select(Tenant).order_by(Tenant.ags))
        return result.all()
