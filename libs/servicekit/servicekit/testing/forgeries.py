"""Forged access tokens, made from a genuine one: what a verifier must refuse (all 401).

One generator for every test that attacks token checks (the kit's, identity's with its real key
table, the attack suite's against every live service and the gateway)::

    for name, token in forgeries(genuine, private_jwk=key, public_jwks=jwks).items():
        assert (await client.get(path, headers=bearer(token))).status_code == 401, name

``private_jwk`` is the issuer's real signing key (for tokens that are validly signed but must
still be refused: expired, another issuer or audience, no ``exp``); ``public_jwks`` its published
key set (for HS256 "signed" with the public key as the secret, the classic confusion attack).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from cryptography.hazmat.primitives import serialization
from jose import jwk

from servicekit.auth.jose_safe import generate_private_jwk, sign


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def segment(value: dict[str, Any]) -> str:
    """A JWS header or payload segment of ``value``."""
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The unverified header and claims of a compact JWS."""
    header, payload, _ = token.split(".")
    return (
        json.loads(base64.urlsafe_b64decode(header + "==")),
        json.loads(base64.urlsafe_b64decode(payload + "==")),
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def alg_none(token: str) -> str:
    """The genuine claims with ``alg: none`` and no signature."""
    header, claims = parts(token)
    return f"{segment({**header, 'alg': 'none'})}.{segment(claims)}."


def hs256_with_public_key(
    token: str, public_jwks: dict[str, Any], encoding: serialization.Encoding
) -> str:
    """The genuine claims, HMAC-SHA256 "signed" with the issuer's public key (PEM or DER) as
    the secret: passes a verifier that takes the algorithm from the token."""
    header, claims = parts(token)
    public = next(key for key in public_jwks["keys"] if key["kid"] == header["kid"])
    secret = jwk.construct(public, public["alg"]).prepared_key.public_bytes(
        encoding, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = f"{segment({**header, 'alg': 'HS256'})}.{segment(claims)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def tampered(token: str, **changes: Any) -> str:
    """The genuine header and signature over claims changed by ``changes``."""
    header_part, _, signature = token.split(".")
    return f"{header_part}.{segment({**parts(token)[1], **changes})}.{signature}"


def resigned(token: str, private_jwk: dict[str, Any], **changes: Any) -> str:
    """The genuine claims changed by ``changes`` (None removes a claim), validly signed."""
    claims = {**parts(token)[1], **changes}
    return sign({k: v for k, v in claims.items() if v is not None}, private_jwk)


def foreign_signed(token: str, *, kid: str) -> str:
    """The genuine claims signed by a key of nobody's, under ``kid``."""
    foreign = {**generate_private_jwk("ES256"), "kid": kid}
    return sign(parts(token)[1], foreign)


def forgeries(
    token: str, *, private_jwk: dict[str, Any], public_jwks: dict[str, Any]
) -> dict[str, str]:
    """Name -> forged token, each made from the genuine ``token`` of that issuer."""
    now = int(time.time())
    kid = parts(token)[0]["kid"]
    return {
        "alg-none": alg_none(token),
        "hs256-public-key-pem": hs256_with_public_key(
            token, public_jwks, serialization.Encoding.PEM
        ),
        "hs256-public-key-der": hs256_with_public_key(
            token, public_jwks, serialization.Encoding.DER
        ),
        "tampered-roles": tampered(token, roles=["admin", "platform_admin"]),
        "expired": resigned(token, private_jwk, exp=now - 120, iat=now - 420),
        "not-yet-valid": resigned(token, private_jwk, nbf=now + 600),
        "wrong-issuer": resigned(token, private_jwk, iss="https://evil.example/identity"),
        "wrong-audience": resigned(token, private_jwk, aud="another-audience"),
        "no-exp": resigned(token, private_jwk, exp=None),
        "unknown-kid": foreign_signed(token, kid="not-a-kid-of-the-issuer"),
        "known-kid-foreign-key": foreign_signed(token, kid=kid),
    }
