from __future__ import annotations

import json
from collections.abc import Sequence

from identity.tenants.errors import TenantExists, TenantNotFound
from identity.tenants.models import Tenant
from identity.tenants.repository import TenantRepository
from identity.tenants.schemas import TenantSettings, TenantSettingsPatch


class TenantService:
    def __init__(self, tenants: TenantRepository) -> None:
        self.tenants = tenants

    async def get(self, ags: str) -> Tenant:
        tenant = await self.tenants.get(ags)
        if tenant is None:
            raise TenantNotFound(f"No municipality with AGS {ags} is served here.")
        return tenant

    async def list(self) -> Sequence[Tenant]:
        return await self.tenants.list()

    async def ensure(self, ags: str, name: str) -> Tenant:
        """The tenant with this AGS, created when missing (idempotent seeding)."""
        existing = await self.tenants.get(ags)
        if existing is not None:
            return existing
        return await self.tenants.add(Tenant(ags=ags, name=name, settings="{}"))

    async def create(self, ags: str, name: str) -> Tenant:
        if await self.tenants.get(ags) is not None:
            raise TenantExists(f"AGS {ags} is already served.")
        return await self.tenants.add(Tenant(ags=ags, name=name, settings="{}"))

    async def settings(self, ags: str) -> TenantSettings:
        return TenantSettings.model_validate_json((await self.get(ags)).settings or "{}")

    async def update_settings(self, ags: str, patch: TenantSettingsPatch) -> Tenant:
        tenant = await self.get(ags)
        current = TenantSettings.model_validate_json(tenant.settings or "{}")
        updated = current.model_copy(update=patch.model_dump(exclude_none=True))
        tenant.settings = json.dumps(updated.model_dump(), sort_keys=True)
        await self.tenants.flush()
        return tenant
