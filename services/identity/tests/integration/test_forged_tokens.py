"""Forged tokens against identity's own keys, on SQLite and PostgreSQL: all 401.

identity checks its tokens with servicekit.auth (as every service does), so these are the
kit's regression tests with the real key table, real JWKS and real rotation behind them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from identity.keys.cipher import KeyCipher
from identity.keys.models import SigningKey
from servicekit.auth.jose_safe import sign
from servicekit.testing.forgeries import (
    alg_none,
    bearer,
    hs256_with_public_key,
    parts,
    resigned,
    tampered,
)
from servicekit.testing.tokens import TokenFactory

from ..factories import DEFAULT_PASSWORD, create_account, create_tenant

ME = "/identity/v1/me"


def assert_invalid_token(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:rathaus:problem:invalid-token"


class Identity:
    """A logged-in citizen and identity's real signing key, for forging near-genuine tokens."""

    def __init__(self, token: str, private: dict[str, Any]) -> None:
        self.token = token
        self.private = private
        self.header, self.claims = parts(token)

    def resign(self, **changes: Any) -> str:
        return resigned(self.token, self.private, **changes)


@pytest.fixture
async def identity(app: FastAPI, client: httpx.AsyncClient, session: AsyncSession) -> Identity:
    await create_tenant(session)
    await create_account(session)
    login = await client.post(
        "/identity/v1/auth/login",
        json={"tenant": "06999001", "email": "erika@example.org", "password": DEFAULT_PASSWORD},
    )
    token = login.json()["access_token"]
    kid = parts(token)[0]["kid"]
    stored = await session.scalar(select(SigningKey).where(SigningKey.kid == kid))
    assert stored is not None
    cipher: KeyCipher = app.state.key_cipher
    return Identity(token, cipher.decrypt(stored.private_jwk_encrypted, kid=kid))


async def test_the_genuine_token_is_accepted(client: httpx.AsyncClient, identity: Identity) -> None:
    assert (await client.get(ME, headers=bearer(identity.token))).status_code == 200


async def test_alg_none_is_401(client: httpx.AsyncClient, identity: Identity) -> None:
    response = await client.get(ME, headers=bearer(alg_none(identity.token)))

    assert_invalid_token(response)


@pytest.mark.parametrize("encoding", [serialization.Encoding.PEM, serialization.Encoding.DER])
async def test_hs256_signed_with_identitys_public_key_is_401(
    client: httpx.AsyncClient, identity: Identity, encoding: serialization.Encoding
) -> None:
    jwks = (await client.get("/identity/v1/jwks")).json()

    response = await client.get(
        ME, headers=bearer(hs256_with_public_key(identity.token, jwks, encoding))
    )

    assert_invalid_token(response)


async def test_tampered_payload_is_401(
    client: httpx.AsyncClient, identity: Identity, session: AsyncSession
) -> None:
    other = await create_account(session, email="other@example.org")

    response = await client.get(
        ME, headers=bearer(tampered(identity.token, sub=other.id, roles=["admin"]))
    )

    assert_invalid_token(response)


@dataclass(frozen=True)
class FromNow:
    """A time claim relative to when the test runs, not to when it was collected: a run of
    many workers may reach a test long after collecting it."""

    seconds: int


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"exp": FromNow(-120)}, id="expired"),
        pytest.param({"nbf": FromNow(600)}, id="not-yet-valid"),
        pytest.param({"iat": FromNow(600)}, id="issued-in-the-future"),
        pytest.param({"iss": "https://evil.example/identity"}, id="wrong-iss"),
        pytest.param({"aud": "other-audience"}, id="wrong-aud"),
        pytest.param({"exp": None}, id="no-exp"),
        pytest.param({"tenant": None}, id="no-tenant"),
    ],
)
async def test_validly_signed_but_unacceptable_token_is_401(
    client: httpx.AsyncClient, identity: Identity, changes: dict[str, Any]
) -> None:
    claims = {
        name: int(time.time()) + value.seconds if isinstance(value, FromNow) else value
        for name, value in changes.items()
    }
    response = await client.get(ME, headers=bearer(identity.resign(**claims)))

    assert_invalid_token(response)


async def test_unknown_kid_is_401(client: httpx.AsyncClient, identity: Identity) -> None:
    foreign = TokenFactory(algorithm="ES256")
    forged_key = {**foreign.private_jwk(), "kid": "not-a-kid-of-identity"}

    response = await client.get(ME, headers=bearer(sign(identity.claims, forged_key)))

    assert_invalid_token(response)


async def test_identitys_kid_with_another_keys_signature_is_401(
    client: httpx.AsyncClient, identity: Identity
) -> None:
    foreign = TokenFactory(algorithm="ES256")
    forged_key = {**foreign.private_jwk(), "kid": identity.header["kid"]}

    response = await client.get(ME, headers=bearer(sign(identity.claims, forged_key)))

    assert_invalid_token(response)


async def test_passive_key_is_accepted_and_retired_key_is_401(
    client: httpx.AsyncClient, identity: Identity, tokens: TokenFactory
) -> None:
    admin = tokens.headers(roles=["platform_admin"])
    await client.post("/identity/v1/keys/rotate", headers=admin)

    passive = await client.get(ME, headers=bearer(identity.resign()))
    await client.post(f"/identity/v1/keys/{identity.header['kid']}/retire", headers=admin)
    retired = await client.get(ME, headers=bearer(identity.resign()))

    assert passive.status_code == 200
    assert_invalid_token(retired)


async def test_a_token_of_one_municipality_does_not_act_in_another(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    await create_tenant(session)
    await create_tenant(session, ags="06999002", name="Nachbarstadt")
    account = await create_account(session, tenant="06999002", roles=("admin",))
    login = await client.post(
        "/identity/v1/auth/login",
        json={"tenant": "06999002", "email": account.email, "password": DEFAULT_PASSWORD},
    )
    headers = bearer(login.json()["access_token"])

    listed = await client.get("/identity/v1/tenants/06999001/accounts", headers=headers)
    own = await client.get("/identity/v1/tenants/06999002/accounts", headers=headers)

    assert listed.status_code == 404
    assert own.status_code == 200
    assert [item["id"] for item in own.json()["items"]] == [account.id]
