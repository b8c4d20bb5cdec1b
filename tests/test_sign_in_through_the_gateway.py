"""A frontend signs people in as the standard says, through the gateway only: authlib's OAuth2
client (authorization code with PKCE), the sign-in page posted like a browser posts it.

Identity and the gateway run as real servers; identity's issuer is the gateway's address, so
everything the discovery document names is reached through the gateway.
"""

from __future__ import annotations

import html
import re
import secrets
import time
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pyotp
import pytest

from gateway.main import create_gateway
from gateway.settings import GatewaySettings
from identity.main import create_app as create_identity
from identity.seed import DEMO_MFA_ACCOUNT, DEMO_MFA_SECRET, DEMO_TENANT_AGS
from identity.seed import seed_demo as seed_identity
from identity.settings import IdentitySettings
from servicekit.auth.jose_safe import verify_id_token
from servicekit.auth.keys import index_jwks
from servicekit.settings import Environment
from servicekit.testing.live import LiveServer, free_port, run_live_server
from servicekit.testing.plugin import DatabaseRegistry
from tests.documents_booking.live_booking import fresh_database

with warnings.catch_warnings():
    # authlib 1.9 asks for httpx2 but works with httpx; importing authlib.deprecate installs
    # an "always" filter, so ignore after it.
    import authlib.deprecate  # type: ignore[import-untyped]  # noqa: F401

    warnings.simplefilter("ignore")
    from authlib.common.security import generate_token  # type: ignore[import-untyped]
    from authlib.integrations.httpx_client import (  # type: ignore[import-untyped]
        AsyncOAuth2Client,
        OAuthError,
    )

CITIZEN = ("erika.mustermann@example.org", "demo-citizen-2026")
ADMIN = {"tenant": DEMO_TENANT_AGS, "email": "admin@musterstadt.example"}
ADMIN_PASSWORD = "demo-admin-2026!"


@dataclass
class Edge:
    gateway: str
    issuer: str


@pytest.fixture
async def edge(
    database_registry: DatabaseRegistry, db_backend: str, capsys: pytest.CaptureFixture[str]
) -> AsyncIterator[Edge]:
    gateway_port = free_port()
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    issuer = f"{gateway_url}/identity"
    servers: list[LiveServer] = []
    try:
        identity = create_identity(
            IdentitySettings.model_validate(
                {
                    "environment": Environment.TEST,
                    "auth_issuer": issuer,
                    "database_url": fresh_database(database_registry, db_backend, "identity"),
                    "rsa_key_bits": 3072,
                }
            )
        )
        await _seed(identity)
        servers.append(run_live_server(identity))
        gateway = create_gateway(
            GatewaySettings.model_validate(
                {
                    "environment": Environment.TEST,
                    "auth_issuer": issuer,
                    "auth_jwks_url": f"{servers[0].url}/identity/v1/jwks",
                    "services": {"identity": [servers[0].url]},
                }
            )
        )
        servers.append(run_live_server(gateway, port=gateway_port))
        capsys.readouterr()  # the seed prints demo credentials
        yield Edge(gateway=gateway_url, issuer=issuer)
    finally:
        for server in reversed(servers):
            server.stop()


async def _seed(app: Any) -> None:
    await seed_identity(app)
    # The server runs its own event loop: connections made here must not be reused there.
    await app.state.database.engine.dispose()


def _form(page: str) -> tuple[str, dict[str, str]]:
    """The form's action and its hidden fields, as a browser reads them."""
    action = re.search(r'<form method="post" action="([^"]+)"', page)
    assert action is not None, page
    hidden = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)
    return html.unescape(action.group(1)), {name: html.unescape(v) for name, v in hidden}


async def _register(http: httpx.AsyncClient, **client: Any) -> dict[str, Any]:
    """The municipality's administrator registers a frontend's client, through the gateway."""
    login = await http.post("/identity/v1/auth/login", json={**ADMIN, "password": ADMIN_PASSWORD})
    assert login.status_code == 200, login.text
    created = await http.post(
        f"/identity/v1/tenants/{DEMO_TENANT_AGS}/clients",
        json=client,
        headers={"Authorization": f"Bearer {login.json()['access_token']}"},
    )
    assert created.status_code == 201, created.text
    registered: dict[str, Any] = created.json()
    return registered


async def _sign_in(
    browser: httpx.AsyncClient, url: str, email: str, password: str, otp: str | None = None
) -> str:
    """The person's browser: the page, the password (and the code), then where it is sent."""
    page = await browser.get(url, headers={"Accept": "text/html"})
    assert page.status_code == 200, page.text
    assert "text/html" in page.headers["content-type"]
    action, fields = _form(page.text)
    answer = await browser.post(action, data={**fields, "email": email, "password": password})
    if otp is not None:
        assert answer.status_code == 200, answer.text
        action, fields = _form(answer.text)
        answer = await browser.post(action, data={**fields, "otp": otp})
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


async def test_a_public_frontend_signs_in_a_citizen_and_a_clerk_with_pkce_through_the_gateway(
    edge: Edge,
) -> None:
    callback = f"{edge.gateway}/demo/callback"
    async with httpx.AsyncClient(base_url=edge.gateway) as browser:
        # What a client library reads first, at the host's root as well as at the issuer.
        root = await browser.get("/.well-known/openid-configuration")
        assert root.status_code == 200, root.text
        metadata = root.json()
        assert metadata == (await browser.get("/identity/.well-known/openid-configuration")).json()
        assert metadata["authorization_endpoint"].startswith(edge.gateway)
        registered = await _register(
            browser,
            name="Bürgerportal",
            redirect_uris=[callback],
            first_party=True,
            public=True,
        )
        assert registered["client_secret"] == ""

        for (email, password), otp, amr in (
            (CITIZEN, None, ["pwd"]),
            (
                DEMO_MFA_ACCOUNT[:2],
                # The next step's code: the seed used the current one to confirm the enrolment.
                pyotp.TOTP(DEMO_MFA_SECRET).at(time.time() + 30),
                ["pwd", "otp"],
            ),
        ):
            async with AsyncOAuth2Client(
                client_id=registered["client_id"],
                redirect_uri=callback,
                scope="openid profile email",
                code_challenge_method="S256",
                token_endpoint_auth_method="none",
            ) as oauth:
                verifier = generate_token(48)
                nonce = secrets.token_urlsafe(16)
                url, state = oauth.create_authorization_url(
                    metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
                )
                location = await _sign_in(browser, url, email, password, otp)
                assert location.startswith(callback + "?")
                assert f"state={state}" in location
                token = await oauth.fetch_token(
                    metadata["token_endpoint"],
                    authorization_response=location,
                    code_verifier=verifier,
                )
                info = await oauth.get(metadata["userinfo_endpoint"])

            assert info.status_code == 200, info.text
            assert info.json()["email"] == email
            keys = index_jwks((await browser.get(metadata["jwks_uri"])).json())
            claims = verify_id_token(
                token["id_token"], keys, issuer=edge.issuer, audience=registered["client_id"]
            )
            assert claims["nonce"] == nonce
            assert claims["amr"] == amr
            assert claims["sub"] == info.json()["sub"]


async def test_a_confidential_client_uses_client_secret_basic_through_the_gateway_and_replays_fail(
    edge: Edge,
) -> None:
    callback = f"{edge.gateway}/app/callback"
    async with httpx.AsyncClient(base_url=edge.gateway) as browser:
        metadata = (await browser.get("/.well-known/openid-configuration")).json()
        registered = await _register(
            browser, name="Termin-App", redirect_uris=[callback], first_party=True
        )
        assert "client_secret_basic" in metadata["token_endpoint_auth_methods_supported"]

        # authlib's default client authentication is client_secret_basic.
        async with AsyncOAuth2Client(
            client_id=registered["client_id"],
            client_secret=registered["client_secret"],
            redirect_uri=callback,
            scope="openid",
            code_challenge_method="S256",
        ) as oauth:
            verifier = generate_token(48)
            url, _ = oauth.create_authorization_url(
                metadata["authorization_endpoint"], code_verifier=verifier
            )
            location = await _sign_in(browser, url, *CITIZEN)
            token = await oauth.fetch_token(
                metadata["token_endpoint"], authorization_response=location, code_verifier=verifier
            )
            assert token["token_type"] == "Bearer"
            assert "id_token" in token

            with pytest.raises(OAuthError) as replayed:
                await oauth.fetch_token(
                    metadata["token_endpoint"],
                    authorization_response=location,
                    code_verifier=verifier,
                )
            assert replayed.value.error == "invalid_grant"
            with pytest.raises(OAuthError) as refreshed:
                await oauth.refresh_token(
                    metadata["token_endpoint"], refresh_token=token["refresh_token"]
                )
            assert refreshed.value.error == "invalid_grant"

        # A redirect URI the client did not register: refused at identity, sent nowhere.
        async with AsyncOAuth2Client(
            client_id=registered["client_id"],
            redirect_uri="https://evil.example/callback",
            code_challenge_method="S256",
        ) as oauth:
            url, _ = oauth.create_authorization_url(
                metadata["authorization_endpoint"], code_verifier=generate_token(48)
            )
        refused = await browser.get(url)
        assert refused.status_code == 400
        assert refused.headers["content-type"] == "application/problem+json"
        assert "location" not in refused.headers
