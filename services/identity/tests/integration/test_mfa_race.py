"""Real clients race with one authenticator code, each with a login step of its own: the code
completes one login, never two."""

from __future__ import annotations

import asyncio

import httpx
import pyotp
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import async_sessionmaker

from servicekit.db import create_engine
from servicekit.testing.live import LiveServer

from ..factories import DEFAULT_PASSWORD, create_account, create_second_factor, create_tenant


@pytest.fixture
async def seeded_live(live_service: LiveServer, fresh_database_url: str) -> tuple[LiveServer, str]:
    engine = create_engine(fresh_database_url)
    async with async_sessionmaker(engine)() as session, session.begin():
        await create_tenant(session)
        clerk = await create_account(session, email="clerk@example.org", roles=("clerk",))
        secret = await create_second_factor(session, clerk)
    await engine.dispose()
    return live_service, secret


async def test_one_code_sent_by_racing_clients_completes_one_login(
    seeded_live: tuple[LiveServer, str],
) -> None:
    live, secret = seeded_live
    app = live.server.config.app
    assert isinstance(app, FastAPI)
    login = {"tenant": "06999001", "email": "clerk@example.org", "password": DEFAULT_PASSWORD}
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
        steps = [
            (await http.post("/identity/v1/auth/login", json=login)).json()["mfa_token"]
            for _ in range(6)
        ]
        code = pyotp.TOTP(secret).at(app.state.clock.now())

        answers = await asyncio.gather(
            *[
                http.post("/identity/v1/auth/mfa/verify", json={"mfa_token": step, "code": code})
                for step in steps
            ]
        )

    assert sorted(answer.status_code for answer in answers) == [200] + [401] * 5
