"""JSON login, tokens, and the lockout that answers like a wrong password."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from jose import jwt
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.testing.tokens import TokenFactory

from ..factories import DEFAULT_PASSWORD, FakeClock, create_account, create_tenant

LOGIN = "/identity/v1/auth/login"


async def log_in(
    client: httpx.AsyncClient,
    email: str = "erika@example.org",
    password: str = DEFAULT_PASSWORD,
    tenant: str = "06999001",
) -> httpx.Response:
    return await client.post(LOGIN, json={"tenant": tenant, "email": email, "password": password})


def comparable(response: httpx.Response) -> tuple[int, str, dict[str, Any]]:
    body = dict(response.json())
    body.pop("request_id", None)
    return response.status_code, response.headers["content-type"], body


async def test_login_returns_a_short_lived_access_token_with_the_claims(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_tenant(session)
    account = await create_account(session, roles=("clerk",))

    response = await log_in(client)

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 300
    assert body["refresh_token"]
    header = jwt.get_unverified_header(body["access_token"])
    claims = jwt.get_unverified_claims(body["access_token"])
    assert header["alg"] == "ES256"
    assert header["kid"]
    assert header["typ"] == "at+jwt"
    assert set(claims) >= {"iss", "sub", "aud", "exp", "iat", "jti", "tenant", "roles", "scope"}
    assert claims["sub"] == account.id
    assert claims["tenant"] == "06999001"
    assert claims["roles"] == ["clerk"]
    assert claims["exp"] - claims["iat"] == 300


async def test_the_access_token_opens_identity_itself(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_tenant(session)
    await create_account(session)
    token = (await log_in(client)).json()["access_token"]

    response = await client.get("/identity/v1/me", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200
    assert response.json()["email"] == "erika@example.org"


async def test_email_is_matched_case_insensitively(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_tenant(session)
    await create_account(session)

    response = await log_in(client, email="  Erika@Example.ORG ")

    assert response.status_code == 200


async def test_wrong_password_is_401_invalid_credentials(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_tenant(session)
    await create_account(session)

    response = await log_in(client, password="wrong password!!")

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:rathaus:problem:invalid-credentials"


async def test_unknown_account_answers_exactly_like_a_wrong_password(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_tenant(session)
    await create_account(session)

    wrong = await log_in(client, password="wrong password!!")
    unknown = await log_in(client, email="nobody@example.org")

    assert comparable(unknown) == comparable(wrong)


async def test_a_control_character_in_the_address_answers_like_an_unknown_account(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """A NUL never reaches the database (PostgreSQL would refuse it with a 500)."""
    await create_tenant(session)
    await create_account(session)

    unknown = await log_in(client, email="nobody@example.org")
    nul = await log_in(client, email="erika\u0000@example.org")
    token = await client.post(
        "/identity/v1/oauth2/token",
        data={
            "grant_type": "password",
            "username": "erika@example.org\u0000",
            "password": DEFAULT_PASSWORD,
            "tenant": "06999001",
        },
    )

    assert comparable(nul) == comparable(unknown)
    assert token.status_code == 400, token.text
    assert token.json()["error"] == "invalid_grant"


async def test_account_of_another_tenant_cannot_log_in_here(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_tenant(session)
    await create_tenant(session, ags="06999002", name="Nachbarstadt")
    await create_account(session, tenant="06999002")

    response = await log_in(client, tenant="06999001")

    assert response.status_code == 401


async def test_locked_account_answers_like_a_wrong_password_even_with_the_right_one(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_tenant(session)
    await create_account(session)
    wrong = await log_in(client, password="wrong password!!")
    for _ in range(2):
        await log_in(client, password="wrong password!!")

    right_but_locked = await log_in(client)

    assert comparable(right_but_locked) == comparable(wrong)


async def test_lockout_lifts_after_the_configured_time(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    clock: FakeClock = app.state.clock
    await create_tenant(session)
    await create_account(session)
    for _ in range(3):
        await log_in(client, password="wrong password!!")
    clock.advance(seconds=59)
    assert (await log_in(client)).status_code == 401

    clock.advance(seconds=2)

    assert (await log_in(client)).status_code == 200


async def test_each_further_lock_lasts_twice_as_long(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    clock: FakeClock = app.state.clock
    await create_tenant(session)
    await create_account(session)
    for _ in range(3):
        await log_in(client, password="wrong password!!")
    clock.advance(seconds=61)
    for _ in range(3):
        await log_in(client, password="wrong password!!")

    clock.advance(seconds=61)
    still_locked = await log_in(client)
    clock.advance(seconds=60)
    lifted = await log_in(client)

    assert still_locked.status_code == 401
    assert lifted.status_code == 200


async def test_a_success_resets_the_failure_count(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_tenant(session)
    await create_account(session)
    for _ in range(2):
        await log_in(client, password="wrong password!!")
    assert (await log_in(client)).status_code == 200

    for _ in range(2):
        await log_in(client, password="wrong password!!")

    assert (await log_in(client)).status_code == 200


async def test_many_failures_from_one_address_lock_that_address(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_tenant(session)
    await create_account(session)
    threshold = app.state.settings.lockout_ip_threshold
    for number in range(threshold):
        await log_in(client, email=f"guess{number}@example.org")

    response = await log_in(client)

    assert response.status_code == 401


async def test_logins_and_lockouts_are_audited_without_secrets(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    await create_tenant(session)
    account = await create_account(session)
    await log_in(client)
    for _ in range(3):
        await log_in(client, password="wrong password!!")

    response = await client.get(
        "/identity/v1/tenants/06999001/audit",
        headers=tokens.headers(sub="admin-1", roles=["admin"]),
    )

    events = response.json()["items"]
    actions = [(event["action"], event["outcome"]) for event in events]
    assert ("login", "success") in actions
    assert ("login", "failure") in actions
    assert ("lockout", "success") in actions
    assert all(event["client_ip"] for event in events)
    assert {event["subject"] for event in events} == {account.id}
    assert "wrong password" not in response.text
    assert DEFAULT_PASSWORD not in response.text


async def test_unknown_locked_and_wrong_all_cost_one_password_verification(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create_tenant(session)
    await create_account(session)
    passwords = app.state.passwords
    calls: list[str | None] = []
    verify = passwords.verify

    async def counting(password_hash: str | None, password: str) -> bool:
        calls.append(password_hash)
        return bool(await verify(password_hash, password))

    monkeypatch.setattr(passwords, "verify", counting)
    await log_in(client, email="nobody@example.org")
    unknown = len(calls)
    for _ in range(3):
        await log_in(client, password="wrong password!!")
    await log_in(client)  # locked

    assert unknown == 1
    assert len(calls) == 5
