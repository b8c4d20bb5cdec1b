from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select

from booking.cooperation.models import Partner
from servicekit.repository import Repository


class PartnerRepository(Repository[Partner]):
    model = Partner

    async def of(self, tenant: str) -> Sequence[Partner]:
        result = await self.session.scalars(
            select(Partner).where(Partner.tenant == tenant).order_by(Partner.ags)
        )
        return result.all()

    async def put(self, tenant: str, ags: str, name: str, base_url: str) -> Partner:
        partner = await self.get((tenant, ags))
        if partner is None:
            return await self.add(Partner(tenant=tenant, ags=ags, name=name, base_url=base_url))
        partner.name, partner.base_url = name, base_url
        await self.flush()
        return partner

    async def remove(self, tenant: str, ags: str) -> bool:
        result = await self.session.execute(
            delete(Partner).where(Partner.tenant == tenant, Partner.ags == ags)
        )
        return bool(getattr(result, "rowcount", 0))
