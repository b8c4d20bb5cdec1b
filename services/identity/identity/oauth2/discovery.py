"""OpenID Connect discovery: where a client library finds the token endpoint and the keys."""

from __future__ import annotations

from fastapi import APIRouter, Response

from identity.mfa.policy import MFA_OTP_GRANT
from identity.oauth2.schemas import DiscoveryDocument
from identity.settings import SettingsDep

router = APIRouter(tags=["discovery"])


def discovery_document(issuer: str, algorithm: str) -> DiscoveryDocument:
    # The issuer is the public base of identity (e.g. https://rathaus.example/identity),
    # so every endpoint is found below it, behind the gateway as well as directly.
    return DiscoveryDocument(
        issuer=issuer,
        jwks_uri=f"{issuer}/v1/jwks",
        token_endpoint=f"{issuer}/v1/oauth2/token",
        revocation_endpoint=f"{issuer}/v1/oauth2/revoke",
        grant_types_supported=["password", "refresh_token", "client_credentials", MFA_OTP_GRANT],
        token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"],
        response_types_supported=["token"],
        subject_types_supported=["public"],
        id_token_signing_alg_values_supported=[algorithm],
        claims_supported=[
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "nbf",
            "jti",
            "tenant",
            "roles",
            "amr",
        ],
    )


@router.get("/identity/.well-known/openid-configuration", response_model=DiscoveryDocument)
async def openid_configuration(settings: SettingsDep, response: Response) -> DiscoveryDocument:
    """OpenID Connect discovery document, at the issuer's well-known path."""
    response.headers["Cache-Control"] = "public, max-age=300"
    return discovery_document(settings.auth_issuer, settings.signing_algorithm)


@router.get("/.well-known/openid-configuration", response_model=DiscoveryDocument)
async def root_openid_configuration(settings: SettingsDep, response: Response) -> DiscoveryDocument:
    """The same document at the host's root, for clients that look there."""
    response.headers["Cache-Control"] = "public, max-age=300"
    return discovery_document(settings.auth_issuer, settings.signing_algorithm)
