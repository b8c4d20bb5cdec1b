from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import delete, select, update

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

    async def record_outcomes(
        self, tenant: str, outcomes: Mapping[str, str], asked_at: datetime
    ) -> None:
        """How each partner (by AGS) answered the search asked at ``asked_at``."""
        for ags, outcome in outcomes.items():
            await self.session.execute(
                update(Partner)
                .where(Partner.tenant == tenant, Partner.ags == ags)
                .values(last_asked_at=asked_at, last_outcome=outcome)
                .execution_options(synchronize_session=False)
            )

    async def remove(self, tenant: str, ags: str) -> bool:
        result = await self.session.execute(
            delete(Partner).where(Partner.tenant == tenant, Partner.ags == ags)
        )
        return bool(getattr(result, "rowcount", 0))
