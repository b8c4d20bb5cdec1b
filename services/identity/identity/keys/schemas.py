from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Jwks(BaseModel):
    """RFC 7517 JSON Web Key Set: the public keys that verify identity's tokens."""

    keys: list[dict[str, Any]] = Field(
        examples=[[{"kty": "EC", "crv": "P-256", "kid": "...", "alg": "ES256", "use": "sig"}]]
    )


class SigningKeyOut(BaseModel):
    """A signing key's public facts (never its private half)."""

    model_config = ConfigDict(from_attributes=True)

    kid: str
    algorithm: str
    state: str = Field(description="active (signs), passive (still verifies) or retired")
    created_at: datetime
    activated_at: datetime | None
    retired_at: datetime | None


class SigningKeyList(BaseModel):
    items: list[SigningKeyOut]
