from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from booking.cooperation.models import Partner


class PartnerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of(self, tenant: str) -> Sequence[Partner]:
        result = await self.session.scalars(
            select(Partner).where(Partner.tenant == tenant).order_by(Partner.ags)
        )
        return result.all()

    async def put(self, tenant: str, ags: str, name: str, base_url: str) -> Partner:
        partner = await self.session.get(Partner, (tenant, ags))
        if partner is None:
            partner = Partner(tenant=tenant, ags=ags, name=name, base_url=base_url)
            self.session.add(partner)
        else:
            partner.name, partner.base_url = name, base_url
        await self.session.flush()
        return partner

    async def remove(self, tenant: str, ags: str) -> bool:
        result = await self.session.execute(
            delete(Partner).where(Partner.tenant == tenant, Partner.ags == ags)
        )
        return bool(getattr(result, "rowcount", 0))
