from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from identity.clients.models import OAuthClient


class ClientRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, client_id: str) -> OAuthClient | None:
        return await self.session.get(OAuthClient, client_id)

    async def in_tenant(self, tenant_ags: str) -> Sequence[OAuthClient]:
        result = await self.session.scalars(
            select(OAuthClient)
            .where(OAuthClient.tenant_ags == tenant_ags)
            .order_by(OAuthClient.client_id)
        )
        return result.all()

    async def add(self, client: OAuthClient) -> OAuthClient:
        self.session.add(client)
        await self.session.flush()
        return client
