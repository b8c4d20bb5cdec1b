"""Sign-in through a trusted identity provider (a Keycloak brokering BundID, played by a real
HTTP server publishing its keys): its ID token becomes our tokens with the level as ``acr``."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from jose import jwt as jose_jwt
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from identity.audit.models import AuditEvent
from identity.login.external import ExternalProviders
from identity.login.models import ExternalIdentity
from identity.settings import ExternalIssuer
from servicekit.auth.jose_safe import sign
from servicekit.testing.live import LiveServer, run_live_server
from servicekit.testing.tokens import TokenFactory

from ..factories import create_account, create_tenant
from ..sent_mail import Postbox, code_in

ISSUER = "https://keycloak.test/realms/bund"
AUDIENCE = "rathaus-musterstadt"
URL = "/identity/v1/auth/external"
TENANT = "06999001"


@pytest.fixture(scope="module")
def provider() -> TokenFactory:
    """The provider's signing keys (RS256, as Keycloak's default)."""
    return TokenFactory(issuer=ISSUER, audience=AUDIENCE)


@pytest.fixture(scope="module")
def provider_keys(provider: TokenFactory) -> Iterator[LiveServer]:
    app = FastAPI()

    @app.get("/protocol/openid-connect/certs")
    async def certs() -> dict[str, Any]:
        return provider.public_jwks()

    server = run_live_server(app)
    yield server
    server.stop()


@pytest.fixture
async def trusting(app: FastAPI, provider_keys: LiveServer) -> AsyncIterator[None]:
    """The app trusts the provider: BundID's substantial and high levels, not the basic one."""
    before = app.state.external_providers
    app.state.external_providers = ExternalProviders(
        [
            ExternalIssuer(
                name="bundid",
                issuer=ISSUER,
                jwks_url=f"{provider_keys.url}/protocol/openid-connect/certs",
                audience=AUDIENCE,
                acr_levels={
                    "STORK-QAA-Level-3": "substantial",
                    "STORK-QAA-Level-4": "high",
                },
            )
        ]
    )
    yield
    await app.state.external_providers.aclose()
    app.state.external_providers = before


def id_token(provider: TokenFactory, **overrides: Any) -> str:
    """An ID token as Keycloak issues it (typ JWT, not an access token)."""
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "bund-4711",
        "iat": now,
        "exp": now + 300,
        "acr": "STORK-QAA-Level-3",
        "email": "erika@example.org",
        "email_verified": True,
        **overrides,
    }
    private = provider.private_jwk()
    token: str = jose_jwt.encode(
        {k: v for k, v in claims.items() if v is not None},
        private,
        algorithm=private["alg"],
        headers={"kid": private["kid"]},
    )
    return token


def _ago(seconds: int) -> int:
    return int(time.time()) - seconds


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=="))
    return decoded


async def sign_in(client: httpx.AsyncClient, token: str, **body: Any) -> httpx.Response:
    return await client.post(
        URL, json={"tenant": TENANT, "provider": "bundid", "id_token": token, **body}
    )


@pytest.mark.usefixtures("trusting")
async def test_a_citizen_signs_in_with_bundid_and_keeps_the_level_through_refreshes(
    client: httpx.AsyncClient, session: AsyncSession, provider: TokenFactory
) -> None:
    await create_tenant(session)

    first = await sign_in(client, id_token(provider))
    again = await sign_in(client, id_token(provider, acr="STORK-QAA-Level-4"))
    refreshed = await client.post(
        "/identity/v1/auth/refresh", json={"refresh_token": again.json()["refresh_token"]}
    )

    assert first.status_code == 200, first.text
    assert first.headers["cache-control"] == "no-store"
    access = claims_of(first.json()["access_token"])
    assert (access["acr"], access["roles"], access["tenant"]) == (
        "substantial",
        ["citizen"],
        TENANT,
    )
    assert claims_of(again.json()["access_token"])["sub"] == access["sub"]  # the same account
    assert claims_of(again.json()["access_token"])["acr"] == "high"
    assert claims_of(refreshed.json()["access_token"])["acr"] == "high"
    [link] = (await session.scalars(select(ExternalIdentity))).all()
    assert (link.provider, link.subject, link.account_id) == ("bundid", "bund-4711", access["sub"])


@pytest.mark.usefixtures("trusting")
async def test_a_verified_address_joins_the_existing_citizen_account(
    client: httpx.AsyncClient, session: AsyncSession, provider: TokenFactory
) -> None:
    await create_tenant(session)
    erika = await create_account(session, email="erika@example.org", email_verified=True)
    await create_account(session, email="staff@musterstadt.example", roles=("clerk",))

    joined = await sign_in(client, id_token(provider))
    unverified = await sign_in(client, id_token(provider, sub="bund-1", email_verified=False))
    staff = await sign_in(
        client, id_token(provider, sub="bund-2", email="staff@musterstadt.example")
    )

    assert claims_of(joined.json()["access_token"])["sub"] == erika.id
    assert claims_of(unverified.json()["access_token"])["sub"] != erika.id  # an account of its own
    assert staff.status_code == 401  # never into a staff account through a citizen's provider


@pytest.mark.usefixtures("trusting")
async def test_an_address_registered_by_someone_else_does_not_capture_the_bundid_identity(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    provider: TokenFactory,
    postbox: Postbox,
) -> None:
    """The takeover: an attacker registers the victim's address with a password of their
    own and never confirms it; the victim's first BundID sign-in must not join that account."""
    await create_tenant(session)
    attacker = {"tenant": TENANT, "email": "erika@example.org", "password": "the attacker's own"}
    registered = await client.post(
        f"/identity/v1/tenants/{TENANT}/citizens",
        json={"email": attacker["email"], "password": attacker["password"]},
    )
    [verification] = await postbox.deliver(app)
    attackers_login = await client.post("/identity/v1/auth/login", json=attacker)
    assert registered.status_code == 201, registered.text
    assert attackers_login.status_code == 200  # this municipality lets unconfirmed ones in

    victim = await sign_in(client, id_token(provider))

    assert victim.status_code == 200, victim.text
    victims_account = claims_of(victim.json()["access_token"])["sub"]
    assert victims_account != registered.json()["id"]
    me = await client.get(
        "/identity/v1/me", headers={"Authorization": f"Bearer {victim.json()['access_token']}"}
    )
    assert (me.json()["email"], me.json()["email_verified"]) == ("erika@example.org", True)
    # Whoever registered the address is out: no password login, no refresh, no confirmation.
    again = await client.post("/identity/v1/auth/login", json=attacker)
    assert again.status_code == 401
    assert again.json()["type"] == "urn:rathaus:problem:invalid-credentials"
    released = await client.post(
        "/identity/v1/auth/login",
        json={**attacker, "email": f"{registered.json()['id']}@released.invalid"},
    )
    assert released.status_code == 401
    refreshed = await client.post(
        "/identity/v1/auth/refresh",
        json={"refresh_token": attackers_login.json()["refresh_token"]},
    )
    assert refreshed.status_code == 401
    confirmed = await client.post(
        "/identity/v1/accounts/email-verification", json={"token": code_in(verification)}
    )
    assert confirmed.status_code == 404
    # The victim's next sign-in finds the victim's own account; the release is audited.
    later = await sign_in(client, id_token(provider))
    assert claims_of(later.json()["access_token"])["sub"] == victims_account
    [audited] = (
        await session.scalars(
            select(AuditEvent).where(AuditEvent.action == "account_address_released")
        )
    ).all()
    assert (audited.subject, audited.tenant_ags) == (registered.json()["id"], TENANT)


@pytest.mark.usefixtures("trusting")
@pytest.mark.parametrize(
    "forgery",
    [
        "basic level",
        "no level",
        "other audience",
        "other issuer",
        "expired",
        "an access token",
        "signed by a stranger",
        "alg none",
        "unknown provider",
        "unknown municipality",
    ],
)
async def test_a_token_that_is_not_the_providers_own_is_401(
    client: httpx.AsyncClient, session: AsyncSession, provider: TokenFactory, forgery: str
) -> None:
    await create_tenant(session)
    body: dict[str, Any] = {}
    token = {
        "basic level": lambda: id_token(provider, acr="STORK-QAA-Level-1"),
        "no level": lambda: id_token(provider, acr=None),
        "other audience": lambda: id_token(provider, aud="another-client"),
        "other issuer": lambda: id_token(provider, iss="https://evil.test/realms/bund"),
        "expired": lambda: id_token(
            provider, iat=int(time.time()) - 900, exp=int(time.time()) - 600
        ),
        "an access token": lambda: sign(
            {**claims_of(id_token(provider)), "jti": uuid.uuid4().hex},
            provider.private_jwk(),
        ),
        "signed by a stranger": lambda: id_token(TokenFactory(issuer=ISSUER)),
        "alg none": lambda: ".".join(
            [
                base64.urlsafe_b64encode(b'{"alg":"none","kid":"x"}').decode().rstrip("="),
                id_token(provider).split(".")[1],
                "",
            ]
        ),
        "unknown provider": lambda: id_token(provider),
        "unknown municipality": lambda: id_token(provider),
    }[forgery]()
    if forgery == "unknown provider":
        body["provider"] = "keycloak-somewhere"
    if forgery == "unknown municipality":
        body["tenant"] = "05315000"

    response = await sign_in(client, token, **body)

    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:rathaus:problem:invalid-external-token"
    assert (await session.scalars(select(ExternalIdentity))).all() == []


async def test_without_trusted_providers_every_external_token_is_401(
    client: httpx.AsyncClient, session: AsyncSession, provider: TokenFactory
) -> None:
    await create_tenant(session)

    response = await sign_in(client, id_token(provider))

    assert response.status_code == 401


@pytest.mark.usefixtures("trusting")
async def test_an_erased_account_is_no_longer_reached_through_the_provider(
    client: httpx.AsyncClient, session: AsyncSession, provider: TokenFactory, tokens: TokenFactory
) -> None:
    await create_tenant(session)
    first = await sign_in(client, id_token(provider))
    account = claims_of(first.json()["access_token"])["sub"]
    admin = tokens.headers(sub="admin-1", roles=["admin"])

    erased = await client.post(
        f"/identity/v1/tenants/{TENANT}/accounts/{account}/erasure", headers=admin
    )
    later = await sign_in(client, id_token(provider))

    assert erased.status_code == 200, erased.text
    now_signed_in = claims_of(later.json()["access_token"])["sub"]
    assert now_signed_in != account  # a new account: the erased one is not reached again
    [link] = (await session.scalars(select(ExternalIdentity))).all()
    assert link.account_id == now_signed_in
