"""The one module that touches python-jose (docs/architecture.md, "Using python-jose safely").

The rules kept here, each with a regression test in ``libs/servicekit/tests/test_auth.py``:

1. every verification passes exactly the one algorithm bound to the key, never ``None``;
2. keys are JWK dicts turned into key objects with their pinned algorithm, never raw PEM/DER;
3. the key is picked by ``kid`` from our own key set; unknown kids are rejected;
4. ``aud`` and ``iss`` are always checked; ``exp``, ``iat``, ``sub``, ``jti`` are required;
5. every ``JOSEError`` (and the ``TypeError`` of a malformed claim) becomes ``TokenRejected``;
6. JWE: the unverified header is checked first: only ``RSA-OAEP-256`` + ``A256GCM``, no ``zip``
   nor ``crit``, a ``kid`` of our own encryption keys (:func:`decrypt`; JWE are written and read
   here with ``cryptography``, see :func:`encrypt`);
7. signing and encryption keys are separate (``use: sig`` / ``use: enc``): a signing key never
   decrypts, an encryption key never verifies;
8. nothing is decided from unverified claims: only ``kid``, ``alg`` and ``typ`` of the header
   are read before the signature check, to pick the key and refuse early.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import pybase64
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from jose import jwk, jws, jwt
from jose.exceptions import ExpiredSignatureError, JOSEError

SIGNING_ALGORITHMS: frozenset[str] = frozenset({"RS256", "ES256"})
"""The only algorithms a key may be bound to; HMAC and ``none`` are never accepted."""

ACCESS_TOKEN_TYPE = "at+jwt"
"""RFC 9068 ``typ`` of an access token: an ID token or other JWT is not an access token."""

RSA_KEY_BITS = 3072

KEY_ALGORITHM = "RSA-OAEP-256"
CONTENT_ENCRYPTION = "A256GCM"
"""The one JWE key management and content encryption pair taken (as FIT-Connect's)."""
ENCRYPTION_RSA_BITS = 4096
"""The least an encryption key may have (FIT-Connect requires 4096-bit RSA)."""

_KTY_FOR_ALG = {"RS256": "RSA", "ES256": "EC"}


class TokenRejected(Exception):
    """The token is not acceptable; the message says why (for logs, never for clients)."""


class UnknownKeyId(TokenRejected):
    """The token names a ``kid`` that is not in the key set (a refetch may help)."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def thumbprint(public_jwk: Mapping[str, Any]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256), used as the ``kid``."""
    kty = public_jwk["kty"]
    members = ("e", "kty", "n") if kty == "RSA" else ("crv", "kty", "x", "y")
    canonical = json.dumps(
        {name: public_jwk[name] for name in members}, separators=(",", ":"), sort_keys=True
    )
    return _b64url(hashlib.sha256(canonical.encode("ascii")).digest())


def generate_private_jwk(algorithm: str, *, rsa_bits: int = RSA_KEY_BITS) -> dict[str, Any]:
    """A new private signing key as a JWK with ``kid``, ``alg`` and ``use: sig``."""
    if algorithm == "RS256":
        if rsa_bits < 2048:
            raise ValueError("RSA signing keys need at least 2048 bits")
        key: Any = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
    elif algorithm == "ES256":
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        raise ValueError(f"unsupported signing algorithm {algorithm!r}")
    private: dict[str, Any] = jwk.construct(key, algorithm).to_dict()
    private.update(alg=algorithm, use="sig")
    private["kid"] = thumbprint(private)
    return {name: _text(value) for name, value in private.items()}


def _text(value: Any) -> Any:
    return value.decode("ascii") if isinstance(value, bytes) else value


_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


def public_jwk(private: Mapping[str, Any]) -> dict[str, Any]:
    """The public half of a JWK: private members are dropped, never published."""
    return {name: value for name, value in private.items() if name not in _PRIVATE_MEMBERS}


@lru_cache(maxsize=64)
def _signing_key(private: tuple[tuple[str, Any], ...]) -> Any:
    """The constructed private key, kept: building an RSA key checks it, about 40 ms a time."""
    members = dict(private)
    return jwk.construct(members, members["alg"])


@lru_cache(maxsize=64)
def _verifying_key(public: str, algorithm: str) -> Any:
    """The constructed public key (``public`` is its JWK as canonical JSON), kept: every token
    check would otherwise build it again (about a third of a check's CPU)."""
    return jwk.construct(json.loads(public), algorithm)


def sign(
    claims: Mapping[str, Any], private: Mapping[str, Any], *, token_type: str = ACCESS_TOKEN_TYPE
) -> str:
    """Sign ``claims`` as an access token (or as ``token_type``, e.g. ``JWT`` for an OpenID
    Connect ID token) with the key's own ``alg`` and ``kid``."""
    algorithm = private["alg"]
    if algorithm not in SIGNING_ALGORITHMS:
        raise ValueError(f"unsupported signing algorithm {algorithm!r}")
    key = _signing_key(tuple(sorted(private.items())))
    token: str = jwt.encode(
        dict(claims),
        key,
        algorithm=algorithm,
        headers={"kid": private["kid"], "typ": token_type},
    )
    return token


def pinned_algorithm(key: Mapping[str, Any]) -> str:
    """The one algorithm a published key may verify; a key that does not say is refused."""
    if key.get("use", "sig") != "sig":
        raise TokenRejected("key is not a signing key")
    algorithm = key.get("alg")
    if algorithm not in SIGNING_ALGORITHMS:
        raise TokenRejected(f"key is not bound to an accepted algorithm: {algorithm!r}")
    if key.get("kty") != _KTY_FOR_ALG[algorithm]:
        raise TokenRejected("key type does not match its algorithm")
    if algorithm == "ES256" and key.get("crv") != "P-256":
        raise TokenRejected("ES256 needs a P-256 key")
    return str(algorithm)


def unverified_key_id(token: str) -> str:
    """The ``kid`` of the header: read only to pick a key, never to decide anything else."""
    try:
        header = jws.get_unverified_header(token)
    except (JOSEError, ValueError, TypeError, KeyError) as exc:
        raise TokenRejected(f"malformed token: {exc}") from None
    kid = header.get("kid") if isinstance(header, Mapping) else None
    if not isinstance(kid, str) or not kid:
        raise TokenRejected("token names no key (kid)")
    return kid


def verify(
    token: str,
    keys: Mapping[str, Mapping[str, Any]],
    *,
    issuer: str,
    audience: str,
    leeway_s: int = 30,
    now: float | None = None,
) -> dict[str, Any]:
    """The verified claims of ``token``, or :class:`TokenRejected`.

    ``keys`` maps ``kid`` to public JWK; the token is verified against that one key only, with
    the one algorithm the key is bound to.
    """
    return _verified(
        token, keys, issuer=issuer, audience=audience, leeway_s=leeway_s, now=now, access=True
    )


def verify_id_token(
    token: str,
    keys: Mapping[str, Mapping[str, Any]],
    *,
    issuer: str,
    audience: str,
    leeway_s: int = 30,
    now: float | None = None,
) -> dict[str, Any]:
    """The verified claims of an OpenID Connect ID token of a trusted external issuer (e.g. a
    Keycloak that brokers BundID), or :class:`TokenRejected`: the same key and algorithm rules
    as :func:`verify`; ``iss``, ``aud``, ``exp``, ``iat`` and ``sub`` are required, and an
    access token (``typ`` at+jwt) is not taken for an ID token."""
    return _verified(
        token, keys, issuer=issuer, audience=audience, leeway_s=leeway_s, now=now, access=False
    )


def _verified(
    token: str,
    keys: Mapping[str, Mapping[str, Any]],
    *,
    issuer: str,
    audience: str,
    leeway_s: int,
    now: float | None,
    access: bool,
) -> dict[str, Any]:
    kid = unverified_key_id(token)
    key_data = keys.get(kid)
    if key_data is None:
        raise UnknownKeyId(f"unknown key id {kid!r}")
    algorithm = pinned_algorithm(key_data)
    try:
        header = jws.get_unverified_header(token)
        if header.get("alg") != algorithm:
            raise TokenRejected(f"token algorithm {header.get('alg')!r} is not the key's")
        if (header.get("typ") == ACCESS_TOKEN_TYPE) != access:
            raise TokenRejected(
                "token is not an access token (typ)" if access else "not an ID token"
            )
        key = _verifying_key(json.dumps(dict(key_data), sort_keys=True), algorithm)
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=audience,
            issuer=issuer,
            options={
                "require_aud": True,
                "require_iss": True,
                "require_exp": True,
                "require_iat": True,
                "require_sub": True,
                "require_jti": access,
                "leeway": leeway_s,
                # An ID token's at_hash would need the access token that came with it.
                "verify_at_hash": False,
            },
        )
    except ExpiredSignatureError:
        raise TokenRejected("token expired") from None
    except TokenRejected:
        raise
    except (JOSEError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise TokenRejected(f"token not valid: {exc}") from None
    _check_times(claims, leeway_s=leeway_s, now=time.time() if now is None else now)
    return claims


def _check_times(claims: Mapping[str, Any], *, leeway_s: int, now: float) -> None:
    # python-jose checks exp and nbf but only that iat is a number; a token from the future is
    # as suspicious as one not yet valid.
    for name in ("exp", "iat", "nbf"):
        value = claims.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise TokenRejected(f"{name} is not a NumericDate")
    if float(claims["iat"]) > now + leeway_s:
        raise TokenRejected("token issued in the future")
    if float(claims["exp"]) <= now - leeway_s:
        raise TokenRejected("token expired")


# -- signed documents (a hand-over's receipt) -----------------------------------------------


def verify_document(
    token: str,
    keys: Mapping[str, Mapping[str, Any]],
    *,
    token_type: str,
    issuer: str,
    audience: str,
) -> dict[str, Any]:
    """The claims of a signed document (a JWS of JSON claims, ``typ`` ``token_type``) that is
    no access token, e.g. a receipt: the key picked by ``kid`` from ``keys`` (a signing key,
    its one algorithm), ``iss`` and ``aud`` compared; ``iat`` and ``jti`` required. No ``exp``:
    a receipt stays evidence."""
    kid = unverified_key_id(token)
    key_data = keys.get(kid)
    if key_data is None:
        raise UnknownKeyId(f"unknown key id {kid!r}")
    algorithm = pinned_algorithm(key_data)
    try:
        header = jws.get_unverified_header(token)
        if header.get("alg") != algorithm:
            raise TokenRejected(f"algorithm {header.get('alg')!r} is not the key's")
        if header.get("typ") != token_type:
            raise TokenRejected(f"not a {token_type} (typ)")
        key = _verifying_key(json.dumps(dict(key_data), sort_keys=True), algorithm)
        payload = jws.verify(token, key, algorithms=[algorithm])
        claims = json.loads(payload)
    except TokenRejected:
        raise
    except (JOSEError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise TokenRejected(f"signature not valid: {exc}") from None
    if not isinstance(claims, dict):
        raise TokenRejected("the payload is not a claims object")
    if claims.get("iss") != issuer or claims.get("aud") != audience:
        raise TokenRejected("issued by or for someone else")
    if not isinstance(claims.get("iat"), int | float) or not isinstance(claims.get("jti"), str):
        raise TokenRejected("iat or jti missing")
    return claims


# -- encryption (JWE, RSA-OAEP-256 + A256GCM) --------------------------------------------------


class DecryptionFailed(Exception):
    """The JWE is not one we decrypt (header, key, or tampered ciphertext); the message says
    why, for logs and for the sender's rejection."""


def generate_encryption_jwk() -> dict[str, Any]:
    """A new private encryption key: RSA 4096, ``alg`` RSA-OAEP-256, ``use: enc``, ``kid``."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=ENCRYPTION_RSA_BITS)
    private: dict[str, Any] = jwk.construct(key, KEY_ALGORITHM).to_dict()
    private.update(alg=KEY_ALGORITHM, use="enc")
    private["kid"] = thumbprint(private)
    return {name: _text(value) for name, value in private.items()}


def _modulus_bits(n: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(n + "=" * (-len(n) % 4)), "big").bit_length()


def check_encryption_key(public: Mapping[str, Any]) -> None:
    """Refuse (``ValueError``) a published key we would
    not encrypt to: not ``use: enc``, not RSA-OAEP-256, fewer than 4096 bits, no ``kid``."""
    if public.get("use") != "enc" or public.get("alg") != KEY_ALGORITHM:
        raise ValueError("not an RSA-OAEP-256 encryption key (use: enc)")
    if public.get("kty") != "RSA" or not isinstance(public.get("n"), str):
        raise ValueError("not an RSA key")
    if _modulus_bits(public["n"]) < ENCRYPTION_RSA_BITS:
        raise ValueError(f"an encryption key needs at least {ENCRYPTION_RSA_BITS} bits")
    if not isinstance(public.get("kid"), str) or not public["kid"]:
        raise ValueError("the key names no kid")


@lru_cache(maxsize=64)
def _rsa_key(members: str, private: bool) -> Any:
    """The ``cryptography`` RSA key of a JWK (canonical JSON), built once: building and checking
    a 4096-bit private key costs more than decrypting a MiB."""
    data = json.loads(members)
    if not private:
        data = public_jwk(data)
    return jwk.construct(data, KEY_ALGORITHM).prepared_key


# The compact serialization is written and read here with ``cryptography``'s RSA-OAEP and
# AESGCM and a SIMD base64 (pybase64), not with python-jose's JWE: python-jose decodes the
# whole token twice per decryption (once for the header check) with the standard library's
# base64, which made base64 nine tenths of a piece's cost (bench/cooperation). What is
# produced and accepted is the standard RFC 7516 compact JWE, RSA-OAEP-256 + A256GCM only
# (python-jose and joserfc decrypt ours, ours decrypts theirs:
# libs/servicekit/tests/test_jose_encryption.py).
_OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
_CEK_BYTES, _IV_BYTES, _TAG_BYTES = 32, 12, 16
_NOT_BASE64URL = (b"+", b"/", b"=")


def _b64url_bytes(data: bytes | memoryview) -> bytes:
    return pybase64.b64encode(data, altchars=b"-_").rstrip(b"=")


def _b64url_decode(segment: bytes | memoryview) -> bytes:
    # pybase64 also takes the standard alphabet and padding beside the url-safe one: a compact
    # JWE has neither, so either is refused as malformed.
    if any(mark in segment for mark in _NOT_BASE64URL):
        raise ValueError("not base64url")
    return pybase64.b64decode(
        bytes(segment) + b"=" * (-len(segment) % 4), altchars=b"-_", validate=True
    )


@lru_cache(maxsize=64)
def _protected_header(kid: str) -> bytes:
    header = {"alg": KEY_ALGORITHM, "enc": CONTENT_ENCRYPTION, "kid": kid}
    return _b64url_bytes(json.dumps(header, separators=(",", ":")).encode())


def encrypt(plaintext: bytes | memoryview, public: Mapping[str, Any]) -> bytes:
    """``plaintext`` as a JWE compact serialization to ``public`` (checked first): a fresh
    content key and IV per call, the protected header as the additional data."""
    check_encryption_key(public)
    key = _rsa_key(json.dumps(dict(public_jwk(public)), sort_keys=True), False)
    header = _protected_header(str(public["kid"]))
    content_key = AESGCM.generate_key(bit_length=8 * _CEK_BYTES)
    iv = os.urandom(_IV_BYTES)
    sealed = AESGCM(content_key).encrypt(iv, plaintext, header)
    view = memoryview(sealed)
    return b".".join(
        (
            header,
            _b64url_bytes(key.encrypt(content_key, _OAEP)),
            _b64url_bytes(iv),
            _b64url_bytes(view[:-_TAG_BYTES]),
            _b64url_bytes(view[-_TAG_BYTES:]),
        )
    )


def _split(token: bytes) -> list[bytes]:
    parts = token.split(b".")
    if len(parts) != 5:
        raise DecryptionFailed("malformed JWE: not a compact serialization of five parts")
    return parts


def _checked_header(segment: bytes) -> str:
    """Rule 6 on the protected header alone: its ``kid``."""
    try:
        header = json.loads(_b64url_decode(segment))
    except ValueError as exc:
        raise DecryptionFailed(f"malformed JWE header: {exc}") from None
    if not isinstance(header, dict):
        raise DecryptionFailed("malformed JWE header")
    if header.get("alg") != KEY_ALGORITHM or header.get("enc") != CONTENT_ENCRYPTION:
        raise DecryptionFailed("only RSA-OAEP-256 with A256GCM is accepted")
    if "zip" in header:
        raise DecryptionFailed("compressed JWE are not accepted")
    if "crit" in header:
        raise DecryptionFailed("JWE with critical extensions are not accepted")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise DecryptionFailed("the JWE names no key (kid)")
    return kid


def encryption_key_id(token: bytes) -> str:
    """The ``kid`` of a JWE's header, after the header passed rule 6."""
    return _checked_header(_split(token)[0])


def decrypt(token: bytes, keys: Mapping[str, Mapping[str, Any]], *, max_bytes: int) -> bytes:
    """The plaintext of a JWE compact serialization encrypted to one of ``keys`` (``kid`` to
    private encryption JWK), or :class:`DecryptionFailed`.

    The header is checked before anything is decrypted (rule 6: ``RSA-OAEP-256`` + ``A256GCM``
    only, no ``zip``, a ``kid`` of ours); ``max_bytes`` bounds the token (python-jose's own cap
    of 250 KB, its guard against zip bombs, does not apply: zip is refused)."""
    if len(token) > max_bytes:
        raise DecryptionFailed(f"the JWE is larger than {max_bytes} bytes")
    header, encrypted_key, iv, ciphertext, tag = _split(token)
    kid = _checked_header(header)
    private = keys.get(kid)
    if private is None or private.get("use") != "enc" or private.get("alg") != KEY_ALGORITHM:
        raise DecryptionFailed(f"not encrypted to a key of ours (kid {kid!r})")
    try:
        key = _rsa_key(json.dumps(dict(private), sort_keys=True), True)
        content_key = key.decrypt(_b64url_decode(encrypted_key), _OAEP)
        nonce, check = _b64url_decode(iv), _b64url_decode(tag)
        if len(content_key) != _CEK_BYTES or len(nonce) != _IV_BYTES or len(check) != _TAG_BYTES:
            raise ValueError("content key, IV or tag of the wrong length")
        sealed = _b64url_decode(ciphertext) + check
        plaintext: bytes = AESGCM(content_key).decrypt(nonce, sealed, header)
    except (InvalidTag, JOSEError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise DecryptionFailed(f"the JWE does not decrypt: {type(exc).__name__}") from None
    return plaintext
