"""Forged tokens, refused at the gateway and at every service behind its back (401 problem+json).

The forgeries are made from a genuine token of identity (a real login), some re-signed with
identity's real signing key (read from its key table, as only identity itself could): what
must be refused is the claim, not the signature. A genuine token of another municipality is
no forgery: it is accepted, and acts in its own municipality only (403 or 404 elsewhere).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from identity.keys.cipher import KeyCipher
from identity.keys.models import SigningKey
from servicekit.db import create_engine
from servicekit.testing.forgeries import bearer, forgeries, parts
from tests.live_rathaus import TENANT

from .world import World

FORGERIES = (
    "alg-none",
    "hs256-public-key-pem",
    "hs256-public-key-der",
    "tampered-roles",
    "expired",
    "not-yet-valid",
    "wrong-issuer",
    "wrong-audience",
    "no-exp",
    "unknown-kid",
    "known-kid-foreign-key",
)


def targets(world: World) -> list[tuple[str, str]]:
    """(base URL, path) of a route needing a token, per service: through the gateway and
    directly at the service."""
    paths = {
        "identity": "/identity/v1/me",
        "booking": "/booking/v1/bookings",
        "documents": f"/documents/v1/bookings/{world.mine.booking_id}/documents",
    }
    urls = world.system.urls
    return [(urls[service], path) for service, path in paths.items()] + [
        (world.gateway, path) for path in paths.values()
    ]


@pytest.fixture(scope="module")
async def forged(world: World) -> dict[str, str]:
    token = world.headers["citizen"]["Authorization"].removeprefix("Bearer ")
    kid = parts(token)[0]["kid"]
    identity = world.system.servers[0].server.config.app
    assert isinstance(identity, FastAPI)
    cipher: KeyCipher = identity.state.key_cipher
    engine = create_engine(world.system.database_urls["identity"])
    try:
        async with engine.connect() as connection:
            stored = (
                await connection.execute(select(SigningKey).where(SigningKey.kid == kid))
            ).one()
    finally:
        await engine.dispose()
    private: dict[str, Any] = cipher.decrypt(stored.private_jwk_encrypted, kid=kid)
    async with httpx.AsyncClient(base_url=world.gateway) as http:
        jwks = (await http.get("/identity/v1/jwks")).json()
    made = forgeries(token, private_jwk=private, public_jwks=jwks)
    assert sorted(made) == sorted(FORGERIES)
    return made


async def test_the_genuine_token_is_accepted_everywhere(world: World) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        for base, path in targets(world):
            response = await http.get(base + path, headers=world.headers["citizen"])
            assert response.status_code == 200, (base, path, response.text)


@pytest.mark.parametrize("name", FORGERIES)
async def test_a_forged_token_is_refused_everywhere(
    world: World, forged: dict[str, str], name: str
) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        for base, path in targets(world):
            response = await http.get(base + path, headers=bearer(forged[name]))
            assert response.status_code == 401, (name, base, path, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["type"] == "urn:rathaus:problem:invalid-token"


async def test_another_municipalitys_token_acts_only_in_its_own(world: World) -> None:
    urls = world.system.urls
    theirs = world.headers["other_admin"]
    ours = {
        "identity": f"/identity/v1/tenants/{TENANT}/accounts",
        "booking": f"/booking/v1/tenants/{TENANT}/appointments",
        "documents": f"/documents/v1/bookings/{world.mine.booking_id}/documents",
    }
    async with httpx.AsyncClient(timeout=30) as http:
        own = await http.get(
            f"{world.gateway}/identity/v1/tenants/{world.others['other_tenant'].tenant}/accounts",
            headers=theirs,
        )
        assert own.status_code == 200, own.text
        for service, path in ours.items():
            for base in (urls[service], world.gateway):
                response = await http.get(base + path, headers=theirs)
                assert response.status_code in {403, 404}, (base, path, response.text)
                assert response.headers["content-type"] == "application/problem+json"
