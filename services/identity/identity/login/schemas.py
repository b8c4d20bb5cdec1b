from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from identity.tenants.schemas import Ags

Secret = Annotated[str, Field(min_length=1, max_length=1024)]


class LoginIn(BaseModel):
    """Email and password of an account of the municipality ``tenant``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "tenant": "06999001",
                    "email": "erika.mustermann@example.org",
                    "password": "correct horse battery staple",
                }
            ]
        },
    )

    tenant: Ags
    email: Annotated[str, Field(min_length=1, max_length=254)]
    password: Secret


class ExternalLoginIn(BaseModel):
    """An ID token of a trusted identity provider (e.g. BundID through Keycloak), for an
    account of the municipality ``tenant``."""

    model_config = ConfigDict(extra="forbid")

    tenant: Ags
    provider: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$", examples=["bundid"])]
    id_token: Annotated[str, Field(min_length=1, max_length=16_384)]


class RefreshIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: Secret


class TokenOut(BaseModel):
    """An access token (JWT, short-lived) and, for accounts, a one-use refresh token."""

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="Seconds until the access token expires")
    refresh_token: str | None = None
    scope: str = ""
