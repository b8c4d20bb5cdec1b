"""Demo data for ``make run``: idempotent, so a second run neither fails nor duplicates."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from identity.tenants.repository import TenantRepository
from identity.tenants.service import TenantService

DEMO_TENANT_AGS = "06999001"
DEMO_TENANT_NAME = "Musterstadt (Demo)"

logger = logging.getLogger("identity.seed")


async def seed_demo(app: FastAPI) -> None:
    async with app.state.database.sessionmaker() as session, session.begin():
        tenants = TenantService(TenantRepository(session))
        tenant = await tenants.ensure(DEMO_TENANT_AGS, DEMO_TENANT_NAME)
    print(f"demo municipality: {tenant.name} (AGS {tenant.ags})")  # noqa: T201 - seed output
