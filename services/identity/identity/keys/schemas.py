from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

# A member a key of the other type lacks: absent then (the JWKS leaves out None), never null.
KeyMember = Annotated[str | None, WithJsonSchema({"type": "string"})]


class Jwk(BaseModel):
    """One public key (RFC 7517, 7518): RSA with ``n``/``e``, EC with ``crv``/``x``/``y``."""

    model_config = ConfigDict(extra="allow")

    kty: Literal["RSA", "EC"]
    kid: str
    alg: str = Field(examples=["RS256", "ES256"])
    use: Literal["sig", "enc"] = "sig"
    n: KeyMember = Field(default=None, description="RSA modulus (base64url)")
    e: KeyMember = Field(default=None, description="RSA public exponent (base64url)")
    crv: KeyMember = Field(default=None, description="EC curve", examples=["P-256"])
    x: KeyMember = Field(default=None, description="EC x coordinate (base64url)")
    y: KeyMember = Field(default=None, description="EC y coordinate (base64url)")


class Jwks(BaseModel):
    """RFC 7517 JSON Web Key Set: the public keys that verify identity's tokens."""

    keys: list[Jwk] = Field(
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
