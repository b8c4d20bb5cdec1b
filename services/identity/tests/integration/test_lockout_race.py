"""Parallel wrong passwords from real clients are all counted: the account locks."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from servicekit.db import create_engine
from servicekit.testing.live import LiveServer

from ..factories import DEFAULT_PASSWORD, create_account, create_tenant


@pytest.fixture
async def seeded_live(live_service: LiveServer, fresh_database_url: str) -> LiveServer:
    engine = create_engine(fresh_database_url)
    async with async_sessionmaker(engine)() as session, session.begin():
        await create_tenant(session)
        await create_account(session)
    await engine.dispose()
    return live_service


async def test_parallel_failures_lock_the_account(seeded_live: LiveServer) -> None:
    def attempt(password: str) -> dict[str, str]:
        return {"tenant": "06999001", "email": "erika@example.org", "password": password}

    async with httpx.AsyncClient(base_url=seeded_live.url, timeout=30) as http:
        failures = await asyncio.gather(
            *[http.post("/identity/v1/auth/login", json=attempt("wrong!")) for _ in range(8)]
        )
        after = await http.post("/identity/v1/auth/login", json=attempt(DEFAULT_PASSWORD))

    assert {response.status_code for response in failures} == {401}
    assert after.status_code == 401
