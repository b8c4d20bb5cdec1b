"""The BundID takeover, tried through the gateway against a real identity server: an attacker
registers the victim's address with a password of their own and never confirms it; the
victim's first sign-in through the identity provider (a Keycloak brokering BundID, played by a
real HTTP server publishing its keys) must not join that account."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from jose import jwt as jose_jwt

from gateway.main import create_gateway
from gateway.settings import GatewaySettings
from identity.main import create_app as create_identity
from identity.seed import seed_demo as seed_identity
from identity.settings import IdentitySettings
from servicekit.settings import Environment
from servicekit.testing.live import LiveServer, run_live_server
from servicekit.testing.plugin import DatabaseRegistry
from servicekit.testing.tokens import TokenFactory
from tests.documents_booking.live_booking import fresh_database

TENANT = "06999001"
ISSUER = "http://rathaus.test/identity"
PROVIDER_ISSUER = "https://keycloak.test/realms/bund"
PROVIDER_AUDIENCE = "rathaus-musterstadt"
VICTIM = "victim@example.org"
ATTACKER = {"tenant": TENANT, "email": VICTIM, "password": "the attacker's own password"}


@pytest.fixture(scope="module")
def provider() -> Iterator[tuple[TokenFactory, LiveServer]]:
    """The identity provider: its signing keys, and its key set on a real server."""
    keys = TokenFactory(issuer=PROVIDER_ISSUER, audience=PROVIDER_AUDIENCE)
    app = FastAPI()

    @app.get("/protocol/openid-connect/certs")
    async def certs() -> dict[str, Any]:
        return keys.public_jwks()

    server = run_live_server(app)
    yield keys, server
    server.stop()


@pytest.fixture
async def gateway(
    database_registry: DatabaseRegistry,
    db_backend: str,
    provider: tuple[TokenFactory, LiveServer],
    capsys: pytest.CaptureFixture[str],
) -> AsyncIterator[str]:
    _, keys_server = provider
    auth = {"environment": Environment.TEST, "auth_issuer": ISSUER}
    servers: list[LiveServer] = []
    try:
        identity = create_identity(
            IdentitySettings.model_validate(
                {
                    **auth,
                    "database_url": fresh_database(database_registry, db_backend, "identity"),
                    "signing_algorithm": "ES256",
                    "external_issuers": [
                        {
                            "name": "bundid",
                            "issuer": PROVIDER_ISSUER,
                            "jwks_url": f"{keys_server.url}/protocol/openid-connect/certs",
                            "audience": PROVIDER_AUDIENCE,
                            "acr_levels": {"STORK-QAA-Level-3": "substantial"},
                        }
                    ],
                }
            )
        )
        await seed_identity(identity)
        # The server runs its own event loop: connections made here must not be reused there.
        await identity.state.database.engine.dispose()
        servers.append(run_live_server(identity))
        edge = create_gateway(
            GatewaySettings.model_validate(
                {
                    **auth,
                    "auth_jwks_url": f"{servers[0].url}/identity/v1/jwks",
                    "identity_url": servers[0].url,
                    "booking_url": "http://127.0.0.1:9",
                    "documents_url": "http://127.0.0.1:9",
                }
            )
        )
        servers.append(run_live_server(edge))
        capsys.readouterr()  # the seed prints demo credentials
        yield servers[1].url
    finally:
        for server in reversed(servers):
            server.stop()


def provider_id_token(keys: TokenFactory, email: str) -> str:
    """An ID token as Keycloak issues it for the person BundID identified."""
    now = int(time.time())
    private = keys.private_jwk()
    token: str = jose_jwt.encode(
        {
            "iss": PROVIDER_ISSUER,
            "aud": PROVIDER_AUDIENCE,
            "sub": "bund-victim-4711",
            "iat": now,
            "exp": now + 300,
            "acr": "STORK-QAA-Level-3",
            "email": email,
            "email_verified": True,
        },
        private,
        algorithm=private["alg"],
        headers={"kid": private["kid"]},
    )
    return token


def subject_of(access_token: str) -> str:
    payload = access_token.split(".")[1]
    subject: str = json.loads(base64.urlsafe_b64decode(payload + "=="))["sub"]
    return subject


def test_an_unconfirmed_registration_of_the_address_does_not_capture_the_bundid_identity(
    gateway: str, provider: tuple[TokenFactory, LiveServer]
) -> None:
    keys, _ = provider
    with httpx.Client(base_url=gateway, timeout=20) as client:
        registered = client.post(
            f"/identity/v1/tenants/{TENANT}/citizens",
            json={"email": VICTIM, "password": ATTACKER["password"]},
        )
        assert registered.status_code == 201, registered.text
        attackers_login = client.post("/identity/v1/auth/login", json=ATTACKER)
        assert attackers_login.status_code == 200, attackers_login.text

        victim = client.post(
            "/identity/v1/auth/external",
            json={
                "tenant": TENANT,
                "provider": "bundid",
                "id_token": provider_id_token(keys, VICTIM),
            },
        )
        assert victim.status_code == 200, victim.text
        tokens = victim.json()
        me = client.get(
            "/identity/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        again = client.post("/identity/v1/auth/login", json=ATTACKER)
        refreshed = client.post(
            "/identity/v1/auth/refresh",
            json={"refresh_token": attackers_login.json()["refresh_token"]},
        )

    # The victim has an account of their own, with the address, confirmed by the provider.
    assert subject_of(tokens["access_token"]) != registered.json()["id"]
    assert me.status_code == 200, me.text
    assert (me.json()["email"], me.json()["email_verified"]) == (VICTIM, True)
    # The attacker's password opens nothing any more, nor does the attacker's session go on.
    assert again.status_code == 401
    assert again.headers["content-type"] == "application/problem+json"
    assert refreshed.status_code == 401
