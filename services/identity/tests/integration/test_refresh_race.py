"""Two real clients race with the same refresh token: one wins, the family ends."""

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


async def test_concurrent_use_of_one_refresh_token_lets_at_most_one_win(
    seeded_live: LiveServer,
) -> None:
    async with httpx.AsyncClient(base_url=seeded_live.url, timeout=30) as http:
        login = await http.post(
            "/identity/v1/auth/login",
            json={"tenant": "06999001", "email": "erika@example.org", "password": DEFAULT_PASSWORD},
        )
        token = login.json()["refresh_token"]

        answers = await asyncio.gather(
            *[
                http.post("/identity/v1/auth/refresh", json={"refresh_token": token})
                for _ in range(6)
            ]
        )
        winners = [answer for answer in answers if answer.status_code == 200]
        follow_ups = [
            await http.post(
                "/identity/v1/auth/refresh", json={"refresh_token": w.json()["refresh_token"]}
            )
            for w in winners
        ]

    assert len(winners) == 1
    assert {answer.status_code for answer in answers} <= {200, 401}
    # The losers presented a used token: the family, the winner's new token included, is revoked.
    assert [answer.status_code for answer in follow_ups] == [401] * len(winners)
