from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from identity.accounts.models import Account


class OAuth2Token(BaseModel):
    """RFC 6749 section 5.1 access token response."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJSUzI1NiIsImtpZCI6Ii4uLiJ9.eyJzdWIiOiIuLi4ifQ.c2ln",
                    "token_type": "Bearer",
                    "expires_in": 300,
                    "scope": "booking:search",
                }
            ]
        }
    )

    access_token: str
    token_type: str = "Bearer"
    expires_in: int
    refresh_token: str | None = None
    scope: str | None = None
    id_token: str | None = Field(
        default=None, description="OpenID Connect ID token (authorization_code with openid)"
    )


class UserInfo(BaseModel):
    """OpenID Connect userinfo: the claims the access token's scopes allow."""

    sub: str
    tenant: str
    email: str | None = None
    email_verified: bool | None = None
    preferred_username: str | None = None
    roles: list[str] | None = None

    @classmethod
    def of(cls, account: Account, scopes: frozenset[str]) -> UserInfo:
        email = "email" in scopes
        profile = "profile" in scopes
        return cls(
            sub=account.id,
            tenant=account.tenant_ags,
            email=account.email if email else None,
            email_verified=(account.email_verified_at is not None) if email else None,
            preferred_username=account.email if profile else None,
            roles=sorted(account.role_set) if profile else None,
        )


class DiscoveryDocument(BaseModel):
    """OpenID Connect discovery / RFC 8414 authorization server metadata."""

    issuer: str
    authorization_endpoint: str | None = None
    jwks_uri: str
    token_endpoint: str
    userinfo_endpoint: str | None = None
    revocation_endpoint: str
    grant_types_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
    response_types_supported: list[str]
    subject_types_supported: list[str]
    id_token_signing_alg_values_supported: list[str]
    token_endpoint_auth_signing_alg_values_supported: list[str] | None = None
    scopes_supported: list[str] = Field(default_factory=list)
    claims_supported: list[str]
    code_challenge_methods_supported: list[str] = Field(default_factory=list)
    response_modes_supported: list[str] = Field(default_factory=list)
    revocation_endpoint_auth_methods_supported: list[str] = Field(default_factory=list)
    ui_locales_supported: list[str] = Field(default_factory=list)
    authorization_response_iss_parameter_supported: bool = False


class RevokedOut(BaseModel):
    """RFC 7009's answer to a revocation: empty (an unknown token is revoked all the same)."""

    model_config = ConfigDict(extra="forbid")
