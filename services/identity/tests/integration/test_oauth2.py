"""The OAuth2 token endpoint: form-encoded, RFC 6749 error bodies, three grants."""

from __future__ import annotations

import base64

import httpx
import pytest
from jose import jwt
from sqlalchemy.ext.asyncio import AsyncSession

from ..factories import (
    DEFAULT_PASSWORD,
    create_account,
    create_partner_client,
    create_tenant,
)

TOKEN = "/identity/v1/oauth2/token"
SECRET = "s3cret-of-the-partner-client-0123456789"


def basic(client_id: str, secret: str) -> dict[str, str]:
    encoded = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


def assert_oauth2_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["error"] == error


async def test_client_credentials_with_basic_auth_give_a_partner_token(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_tenant(session)
    await create_partner_client(session)

    response = await client.post(
        TOKEN,
        data={"grant_type": "client_credentials"},
        headers=basic("partner-nachbarstadt", SECRET),
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert "refresh_token" not in body
    claims = jwt.get_unverified_claims(body["access_token"])
    assert claims["sub"] == "partner-nachbarstadt"
    assert claims["client_id"] == "partner-nachbarstadt"
    assert claims["tenant"] == "06999001"
    assert claims["roles"] == ["partner"]
    assert claims["scope"] == "booking:search cases:handover"


async def test_client_credentials_in_the_form_and_a_narrower_scope(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_tenant(session)
    await create_partner_client(session)

    response = await client.post(
        TOKEN,
        data={
            "grant_type": "client_credentials",
            "client_id": "partner-nachbarstadt",
            "client_secret": SECRET,
            "scope": "booking:search",
        },
    )

    assert response.status_code == 200
    assert response.json()["scope"] == "booking:search"


async def test_wrong_client_secret_is_401_invalid_client(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_tenant(session)
    await create_partner_client(session)

    response = await client.post(
        TOKEN,
        data={"grant_type": "client_credentials"},
        headers=basic("partner-nachbarstadt", "wrong"),
    )

    assert_oauth2_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"].startswith("Basic")


async def test_scope_beyond_the_clients_is_invalid_scope(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_tenant(session)
    await create_partner_client(session)

    response = await client.post(
        TOKEN,
        data={"grant_type": "client_credentials", "scope": "booking:search admin:everything"},
        headers=basic("partner-nachbarstadt", SECRET),
    )

    assert_oauth2_error(response, 400, "invalid_scope")


async def test_password_grant_and_refresh_grant(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_tenant(session)
    await create_account(session)

    first = await client.post(
        TOKEN,
        data={
            "grant_type": "password",
            "username": "erika@example.org",
            "password": DEFAULT_PASSWORD,
            "tenant": "06999001",
        },
    )
    second = await client.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": first.json()["refresh_token"]}
    )
    reuse = await client.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": first.json()["refresh_token"]}
    )

    assert first.status_code == 200, first.text
    assert second.status_code == 200
    assert_oauth2_error(reuse, 400, "invalid_grant")


async def test_wrong_password_is_invalid_grant(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_tenant(session)
    await create_account(session)

    response = await client.post(
        TOKEN,
        data={
            "grant_type": "password",
            "username": "erika@example.org",
            "password": "wrong password!!",
            "tenant": "06999001",
        },
    )

    assert_oauth2_error(response, 400, "invalid_grant")


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({}, "invalid_request"),
        ({"grant_type": "implicit"}, "unsupported_grant_type"),
        ({"grant_type": "authorization_code", "code": "x"}, "invalid_request"),
        ({"grant_type": "password", "username": "a"}, "invalid_request"),
        (
            {"grant_type": "password", "username": "a", "password": "b", "tenant": "x"},
            "invalid_request",
        ),
        ({"grant_type": "refresh_token"}, "invalid_request"),
    ],
)
async def test_malformed_requests_get_rfc6749_errors(
    client: httpx.AsyncClient, data: dict[str, str], error: str
) -> None:
    response = await client.post(TOKEN, data=data)

    assert_oauth2_error(response, 400, error)


async def test_client_credentials_without_client_authentication_is_invalid_client(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(TOKEN, data={"grant_type": "client_credentials"})

    assert_oauth2_error(response, 401, "invalid_client")


async def test_revocation_ends_the_refresh_token(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_tenant(session)
    await create_account(session)
    issued = await client.post(
        TOKEN,
        data={
            "grant_type": "password",
            "username": "erika@example.org",
            "password": DEFAULT_PASSWORD,
            "tenant": "06999001",
        },
    )
    refresh_token = issued.json()["refresh_token"]

    revoked = await client.post("/identity/v1/oauth2/revoke", data={"token": refresh_token})
    after = await client.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": refresh_token}
    )

    assert revoked.status_code == 200
    assert_oauth2_error(after, 400, "invalid_grant")
