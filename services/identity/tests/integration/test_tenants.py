from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from ..factories import create_tenant


async def test_tenant_is_read_by_ags(client: httpx.AsyncClient, session: AsyncSession) -> None:
    await create_tenant(session)

    response = await client.get("/identity/v1/tenants/06999001")

    assert response.status_code == 200
    body = response.json()
    assert body["ags"] == "06999001"
    assert body["created_at"].endswith("Z") or body["created_at"].endswith("+00:00")


async def test_each_test_starts_with_no_tenants(client: httpx.AsyncClient) -> None:
    response = await client.get("/identity/v1/tenants")

    assert response.json() == {"items": []}


async def test_unknown_ags_is_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/identity/v1/tenants/06000000")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:rathaus:problem:tenant-not-found"


async def test_malformed_ags_is_422_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/identity/v1/tenants/99xx")

    assert response.status_code == 422
    assert response.json()["invalid_params"][0]["name"] == "path.ags"
