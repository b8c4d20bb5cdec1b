"""Real clients race to redeem one authorization code: one wins, and its tokens end."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from servicekit.db import create_engine
from servicekit.testing.live import LiveServer

from ..factories import DEFAULT_PASSWORD, create_account, create_frontend_client, create_tenant
from ..sign_in_form import pkce_pair, read_form

CALLBACK = "https://portal.musterstadt.example/callback"


@pytest.fixture
async def seeded_live(live_service: LiveServer, fresh_database_url: str) -> LiveServer:
    engine = create_engine(fresh_database_url)
    async with async_sessionmaker(engine)() as session, session.begin():
        await create_tenant(session)
        await create_account(session)
        await create_frontend_client(session)
    await engine.dispose()
    return live_service


async def test_concurrent_redemptions_of_one_code_let_at_most_one_win(
    seeded_live: LiveServer,
) -> None:
    verifier, challenge = pkce_pair()
    async with httpx.AsyncClient(base_url=seeded_live.url, timeout=30) as http:
        page = await http.get(
            "/identity/v1/oauth2/authorize",
            params={
                "response_type": "code",
                "client_id": "buergerportal",
                "redirect_uri": CALLBACK,
                "state": "race",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
        )
        form = read_form(page.text)
        signed_in = await http.post(
            form.action,
            data={
                "request": form.fields["request"],
                "email": "erika@example.org",
                "password": DEFAULT_PASSWORD,
            },
        )
        code = parse_qs(urlsplit(signed_in.headers["location"]).query)["code"][0]
        redeem = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
            "client_id": "buergerportal",
        }

        answers = await asyncio.gather(
            *[http.post("/identity/v1/oauth2/token", data=redeem) for _ in range(6)]
        )
        winners = [answer for answer in answers if answer.status_code == 200]
        follow_ups = [
            await http.post(
                "/identity/v1/oauth2/token",
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": w.json()["refresh_token"],
                    "client_id": "buergerportal",
                },
            )
            for w in winners
        ]

    assert len(winners) == 1
    assert {answer.status_code for answer in answers} == {200, 400}
    assert {a.json()["error"] for a in answers if a.status_code == 400} == {"invalid_grant"}
    # The others presented a used code: the tokens issued for it are revoked.
    assert [answer.status_code for answer in follow_ups] == [400]
