from __future__ import annotations

from pydantic import BaseModel, Field


class OAuth2Token(BaseModel):
    """RFC 6749 section 5.1 access token response."""

    access_token: str
    token_type: str = "Bearer"
    expires_in: int
    refresh_token: str | None = None
    scope: str | None = None


class DiscoveryDocument(BaseModel):
    """OpenID Connect discovery / RFC 8414 authorization server metadata."""

    issuer: str
    jwks_uri: str
    token_endpoint: str
    revocation_endpoint: str
    grant_types_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
    response_types_supported: list[str]
    subject_types_supported: list[str]
    id_token_signing_alg_values_supported: list[str]
    token_endpoint_auth_signing_alg_values_supported: list[str] | None = None
    scopes_supported: list[str] = Field(default_factory=list)
    claims_supported: list[str]
