"""A third-party OAuth2/OIDC client library finds identity by discovery and checks its tokens.

authlib fetches the token (client credentials, client_secret_basic) at the endpoint the
discovery document names; joserfc (authlib's JOSE library) validates it against the JWKS.
"""

from __future__ import annotations

import warnings

import httpx
import pytest
from fastapi import FastAPI
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.testing.tokens import TokenFactory

from ..factories import create_partner_client, create_tenant

SECRET = "s3cret-of-the-partner-client-0123456789"


async def test_authlib_discovers_identity_and_validates_a_token_against_the_jwks(
    app: FastAPI, session: AsyncSession
) -> None:
    with warnings.catch_warnings():
        # authlib 1.9 asks for httpx2 but still works with httpx; the warning is not ours.
        # Importing authlib.deprecate installs an "always" filter, so ignore after it.
        import authlib.deprecate  # type: ignore[import-untyped]  # noqa: F401

        warnings.simplefilter("ignore")
        from authlib.integrations.starlette_client import OAuth  # type: ignore[import-untyped]
    await create_tenant(session)
    await create_partner_client(session)
    settings = app.state.settings
    oauth = OAuth()
    oauth.register(
        "rathaus",
        client_id="partner-nachbarstadt",
        client_secret=SECRET,
        server_metadata_url=f"{settings.auth_issuer}/.well-known/openid-configuration",
        client_kwargs={
            "transport": httpx.ASGITransport(app=app),
            "token_endpoint_auth_method": "client_secret_basic",
        },
    )
    rathaus = oauth.create_client("rathaus")
    assert rathaus is not None

    metadata = await rathaus.load_server_metadata()
    token = await rathaus.fetch_access_token(grant_type="client_credentials")
    jwks = await rathaus.fetch_jwk_set()

    assert metadata["issuer"] == settings.auth_issuer
    key_set = KeySet.import_key_set(jwks)
    decoded = jwt.decode(
        token["access_token"], key_set, algorithms=metadata["id_token_signing_alg_values_supported"]
    )
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": metadata["issuer"]},
        aud={"essential": True, "value": settings.auth_audience},
        exp={"essential": True},
        tenant={"essential": True, "value": "06999001"},
    ).validate(decoded.claims)
    assert decoded.header["kid"] in {key["kid"] for key in jwks["keys"]}


async def test_a_token_signed_by_another_key_fails_the_libraries_check(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    jwks = (await client.get("/identity/v1/jwks")).json()
    foreign = tokens.issue()

    with pytest.raises(JoseError):
        jwt.decode(foreign, KeySet.import_key_set(jwks), algorithms=["ES256", "RS256"])


async def test_discovery_is_served_at_the_issuer_and_at_the_root(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    issuer = app.state.settings.auth_issuer

    at_issuer = await client.get("/identity/.well-known/openid-configuration")
    at_root = await client.get("/.well-known/openid-configuration")

    assert at_issuer.json() == at_root.json()
    document = at_issuer.json()
    assert document["issuer"] == issuer
    assert document["jwks_uri"] == f"{issuer}/v1/jwks"
    assert document["token_endpoint"] == f"{issuer}/v1/oauth2/token"
    assert set(document["grant_types_supported"]) == {
        "authorization_code",
        "password",
        "refresh_token",
        "client_credentials",
        "urn:rathaus:params:oauth:grant-type:mfa-otp",
    }
