from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from identity.clients.models import OAuthClient
from servicekit.repository import Repository


class ClientRepository(Repository[OAuthClient]):
    model = OAuthClient

    async def in_tenant(self, tenant_ags: str) -> Sequence[OAuthClient]:
        result = await self.session.scalars(
            select(OAuthClient)
            .where(OAuthClient.tenant_ags == tenant_ags)
            .order_by(OAuthClient.client_id)
        )
        return result.all()

    async def held_scopes(self) -> set[str]:
        """Every scope an enabled client holds."""
        result = await self.session.scalars(
            select(OAuthClient.scopes).where(OAuthClient.disabled_at.is_(None)).distinct()
        )
        return {scope for scopes in result.all() for scope in scopes.split()}
