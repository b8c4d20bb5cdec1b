"""Refresh tokens: rotated on every use; a reused one revokes its whole family."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from jose import jwt
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from identity.accounts.models import Account
from servicekit.testing.tokens import TokenFactory

from ..factories import DEFAULT_PASSWORD, FakeClock, create_account, create_tenant

REFRESH = "/identity/v1/auth/refresh"


async def logged_in(client: httpx.AsyncClient, session: AsyncSession) -> dict[str, str]:
    await create_tenant(session)
    await create_account(session)
    response = await client.post(
        "/identity/v1/auth/login",
        json={"tenant": "06999001", "email": "erika@example.org", "password": DEFAULT_PASSWORD},
    )
    assert response.status_code == 200
    body: dict[str, str] = response.json()
    return body


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(REFRESH, json={"refresh_token": token})


async def test_refresh_gives_new_tokens_and_a_new_refresh_token(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    first = await logged_in(client, session)

    response = await refresh(client, first["refresh_token"])

    assert response.status_code == 200
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]


async def test_refresh_reuse_revokes_the_whole_family(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    first = await logged_in(client, session)
    second = (await refresh(client, first["refresh_token"])).json()

    reuse = await refresh(client, first["refresh_token"])
    after = await refresh(client, second["refresh_token"])

    assert reuse.status_code == 401
    assert reuse.json()["type"] == "urn:rathaus:problem:invalid-refresh-token"
    assert after.status_code == 401


async def test_refresh_reuse_is_audited(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    first = await logged_in(client, session)
    await refresh(client, first["refresh_token"])
    await refresh(client, first["refresh_token"])

    response = await client.get(
        "/identity/v1/tenants/06999001/audit?action=refresh_token_reuse",
        headers=tokens.headers(roles=["admin"]),
    )

    assert [event["outcome"] for event in response.json()["items"]] == ["family_revoked"]


async def test_other_logins_survive_a_revoked_family(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    first = await logged_in(client, session)
    other = (
        await client.post(
            "/identity/v1/auth/login",
            json={
                "tenant": "06999001",
                "email": "erika@example.org",
                "password": DEFAULT_PASSWORD,
            },
        )
    ).json()
    await refresh(client, first["refresh_token"])
    await refresh(client, first["refresh_token"])

    assert (await refresh(client, other["refresh_token"])).status_code == 200


async def test_logout_revokes_the_refresh_token(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tokens = await logged_in(client, session)

    logout = await client.post(
        "/identity/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}
    )

    assert logout.status_code == 204
    assert (await refresh(client, tokens["refresh_token"])).status_code == 401


async def test_expired_refresh_token_is_401(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tokens = await logged_in(client, session)
    clock: FakeClock = app.state.clock
    clock.advance(seconds=app.state.settings.refresh_token_ttl_s + 1)

    assert (await refresh(client, tokens["refresh_token"])).status_code == 401


async def test_unknown_refresh_token_is_401(client: httpx.AsyncClient) -> None:
    assert (await refresh(client, "made-up")).status_code == 401


async def test_refresh_takes_up_role_changes(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tokens = await logged_in(client, session)
    await session.execute(update(Account).values(roles="citizen clerk"))

    response = await refresh(client, tokens["refresh_token"])

    assert jwt.get_unverified_claims(response.json()["access_token"])["roles"] == [
        "citizen",
        "clerk",
    ]
