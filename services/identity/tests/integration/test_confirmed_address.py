"""Where a municipality requires it, a password login needs a confirmed e-mail address."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from ..factories import DEFAULT_PASSWORD, STRICT_TENANT, create_account, create_tenant
from ..sent_mail import Postbox, code_in

LOGIN = "/identity/v1/auth/login"


async def test_an_unconfirmed_address_gets_403_after_the_right_password_and_logs_in_once_confirmed(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, postbox: Postbox
) -> None:
    await create_tenant(session, ags=STRICT_TENANT, name="Strengstadt")
    credentials = {"tenant": STRICT_TENANT, "email": "max@example.org"}
    registered = await client.post(
        f"/identity/v1/tenants/{STRICT_TENANT}/citizens",
        json={"email": "max@example.org", "password": DEFAULT_PASSWORD},
    )

    unconfirmed = await client.post(LOGIN, json={**credentials, "password": DEFAULT_PASSWORD})
    wrong = await client.post(LOGIN, json={**credentials, "password": "not the password"})
    unknown = await client.post(
        LOGIN, json={**credentials, "email": "nobody@example.org", "password": DEFAULT_PASSWORD}
    )
    grant = await client.post(
        "/identity/v1/oauth2/token",
        data={
            "grant_type": "password",
            "tenant": STRICT_TENANT,
            "username": "max@example.org",
            "password": DEFAULT_PASSWORD,
        },
    )
    [mail] = await postbox.deliver(app)
    verified = await client.post(
        "/identity/v1/accounts/email-verification", json={"token": code_in(mail)}
    )
    confirmed = await client.post(LOGIN, json={**credentials, "password": DEFAULT_PASSWORD})

    assert registered.status_code == 201
    assert unconfirmed.status_code == 403
    assert unconfirmed.headers["content-type"] == "application/problem+json"
    assert unconfirmed.json()["type"] == "urn:rathaus:problem:email-not-verified"
    assert "refresh_token" not in unconfirmed.text
    # Without the password nobody learns whether the address is confirmed, or known at all.
    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json()["type"] == unknown.json()["type"] == "urn:rathaus:problem:invalid-credentials"
    )
    assert (grant.status_code, grant.json()["error"]) == (400, "invalid_grant")
    assert verified.status_code == 204
    assert confirmed.status_code == 200, confirmed.text


async def test_a_municipality_that_does_not_require_it_lets_an_unconfirmed_address_log_in(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_tenant(session)
    account = await create_account(session)

    response = await client.post(
        LOGIN,
        json={"tenant": "06999001", "email": account.email, "password": DEFAULT_PASSWORD},
    )

    assert account.email_verified_at is None
    assert response.status_code == 200
