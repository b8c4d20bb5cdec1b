"""Signing keys: JWKS, rotation (active, passive, retired), encryption at rest."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from identity.keys.cipher import KeyCipher, KeyDecryptionError
from identity.keys.models import SigningKey
from servicekit.testing.tokens import TokenFactory

from ..factories import DEFAULT_PASSWORD, create_account, create_tenant

JWKS = "/identity/v1/jwks"


async def access_token(client: httpx.AsyncClient) -> str:
    response = await client.post(
        "/identity/v1/auth/login",
        json={"tenant": "06999001", "email": "erika@example.org", "password": DEFAULT_PASSWORD},
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_jwks_publishes_the_active_public_key_only(client: httpx.AsyncClient) -> None:
    response = await client.get(JWKS)

    assert response.status_code == 200
    keys = response.json()["keys"]
    assert len(keys) == 1
    assert keys[0]["alg"] == "ES256"
    assert keys[0]["use"] == "sig"
    assert keys[0]["kid"]
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(keys[0])


async def test_private_keys_are_encrypted_at_rest(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    kid = (await client.get(JWKS)).json()["keys"][0]["kid"]
    stored = await session.scalar(select(SigningKey).where(SigningKey.kid == kid))

    assert stored is not None
    assert '"d"' not in stored.private_jwk_encrypted
    with pytest.raises(KeyDecryptionError):
        KeyCipher(b"\x00" * 32).decrypt(stored.private_jwk_encrypted, kid=kid)
    with pytest.raises(KeyDecryptionError):
        KeyCipher(b"\x00" * 32).decrypt(stored.private_jwk_encrypted, kid="other")


async def test_rotation_keeps_tokens_of_the_passive_key_valid_until_retired(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    await create_tenant(session)
    await create_account(session)
    old_token = await access_token(client)
    admin = tokens.headers(sub="root", roles=["platform_admin"])

    rotated = await client.post("/identity/v1/keys/rotate", headers=admin)
    jwks = (await client.get(JWKS)).json()["keys"]
    passive_accepted = await client.get("/identity/v1/me", headers=bearer(old_token))
    new_token = await access_token(client)
    old_kid = next(key["kid"] for key in jwks if key["kid"] != rotated.json()["kid"])
    retired = await client.post(f"/identity/v1/keys/{old_kid}/retire", headers=admin)
    after_retirement = await client.get("/identity/v1/me", headers=bearer(old_token))
    new_still_fine = await client.get("/identity/v1/me", headers=bearer(new_token))

    assert rotated.status_code == 201
    assert rotated.json()["state"] == "active"
    assert len(jwks) == 2
    assert passive_accepted.status_code == 200
    assert retired.json()["state"] == "retired"
    assert [key["kid"] for key in (await client.get(JWKS)).json()["keys"]] == [
        rotated.json()["kid"]
    ]
    assert after_retirement.status_code == 401
    assert after_retirement.json()["type"] == "urn:rathaus:problem:invalid-token"
    assert new_still_fine.status_code == 200


async def test_the_active_key_cannot_be_retired(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    kid = (await client.get(JWKS)).json()["keys"][0]["kid"]

    response = await client.post(
        f"/identity/v1/keys/{kid}/retire", headers=tokens.headers(roles=["platform_admin"])
    )

    assert response.status_code == 409


async def test_only_platform_admins_rotate_keys(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    response = await client.post(
        "/identity/v1/keys/rotate", headers=tokens.headers(roles=["admin"])
    )
    anonymous = await client.post("/identity/v1/keys/rotate")

    assert response.status_code == 403
    assert anonymous.status_code == 401


async def test_key_rotation_is_audited_and_listed(
    app: FastAPI, client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    admin = tokens.headers(sub="root", roles=["platform_admin"])
    await client.get(JWKS)
    app.state.clock.advance(days=30)
    await client.post("/identity/v1/keys/rotate", headers=admin)

    listed = await client.get("/identity/v1/keys", headers=admin)
    audit = await client.get("/identity/v1/audit?action=key_rotation", headers=admin)

    assert [key["state"] for key in listed.json()["items"]] == ["active", "passive"]
    assert "private" not in json.dumps(listed.json())
    assert [event["actor"] for event in audit.json()["items"]] == ["root"]
