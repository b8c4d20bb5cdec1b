"""OpenID Connect discovery: where a client library finds the endpoints, what they accept, and
the keys. Everything listed is what the endpoints do: the grants of the token endpoint, its
client authentication (``none`` for public clients redeeming a code with PKCE), the scopes
that clients hold and the OpenID Connect ones every client may ask for."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import APIRouter, Response

from identity.clients.dependencies import ClientServiceDep
from identity.keys.dependencies import KeyServiceDep
from identity.keys.router import jwks
from identity.keys.schemas import Jwks
from identity.mfa.policy import MFA_OTP_GRANT
from identity.oauth2.pages import LOCALES
from identity.oauth2.schemas import DiscoveryDocument
from identity.oauth2.service import OIDC_SCOPES
from identity.settings import SettingsDep

router = APIRouter(tags=["discovery"])


def discovery_document(
    issuer: str, algorithm: str, held_scopes: Iterable[str] = ()
) -> DiscoveryDocument:
    # The issuer is the public base of identity (e.g. https://rathaus.example/identity),
    # so every endpoint is found below it, behind the gateway as well as directly.
    return DiscoveryDocument(
        issuer=issuer,
        authorization_endpoint=f"{issuer}/v1/oauth2/authorize",
        jwks_uri=f"{issuer}/v1/jwks",
        token_endpoint=f"{issuer}/v1/oauth2/token",
        userinfo_endpoint=f"{issuer}/v1/oauth2/userinfo",
        revocation_endpoint=f"{issuer}/v1/oauth2/revoke",
        grant_types_supported=[
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "password",
            MFA_OTP_GRANT,
        ],
        token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post", "none"],
        revocation_endpoint_auth_methods_supported=["none"],
        response_types_supported=["code"],
        response_modes_supported=["query"],
        code_challenge_methods_supported=["S256"],
        subject_types_supported=["public"],
        id_token_signing_alg_values_supported=[algorithm],
        scopes_supported=sorted(OIDC_SCOPES | set(held_scopes)),
        ui_locales_supported=list(LOCALES),
        authorization_response_iss_parameter_supported=True,
        claims_supported=[
            "iss",
            "sub",
            "aud",
            "azp",
            "exp",
            "iat",
            "nbf",
            "jti",
            "auth_time",
            "nonce",
            "at_hash",
            "tenant",
            "roles",
            "scope",
            "client_id",
            "acr",
            "amr",
            "email",
            "email_verified",
            "preferred_username",
        ],
    )


async def _document(
    settings: SettingsDep, clients: ClientServiceDep, response: Response
) -> DiscoveryDocument:
    response.headers["Cache-Control"] = "public, max-age=300"
    return discovery_document(
        settings.auth_issuer, settings.signing_algorithm, await clients.held_scopes()
    )


@router.get("/identity/.well-known/openid-configuration", response_model=DiscoveryDocument)
async def openid_configuration(
    settings: SettingsDep, clients: ClientServiceDep, response: Response
) -> DiscoveryDocument:
    """OpenID Connect discovery document, at the issuer's well-known path."""
    return await _document(settings, clients, response)


@router.get("/.well-known/openid-configuration", response_model=DiscoveryDocument)
async def root_openid_configuration(
    settings: SettingsDep, clients: ClientServiceDep, response: Response
) -> DiscoveryDocument:
    """The same document at the host's root, for clients that look there."""
    return await _document(settings, clients, response)


@router.get("/.well-known/jwks.json", response_model=Jwks, response_model_exclude_none=True)
async def root_jwks(keys: KeyServiceDep, response: Response) -> Jwks:
    """The token keys (as ``GET /identity/v1/jwks``) at the host's root, where some client
    libraries look for them."""
    return await jwks(keys, response)
