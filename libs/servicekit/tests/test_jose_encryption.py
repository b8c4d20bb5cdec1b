"""JWE and signed documents in ``jose_safe`` (docs/architecture.md, "Using python-jose
safely", rules 6 and 7): only RSA-OAEP-256 + A256GCM, no zip, our own kids, 4096-bit keys,
signing and encryption keys kept apart."""

from __future__ import annotations

import time
from typing import Any

import pytest
from jose import jwe, jws
from jose.utils import base64url_decode, base64url_encode
from joserfc import jwe as rfc_jwe
from joserfc.jwk import RSAKey

from servicekit.auth import jose_safe
from servicekit.auth.jose_safe import DecryptionFailed, TokenRejected


@pytest.fixture(scope="module")
def private() -> dict[str, Any]:
    return jose_safe.generate_encryption_jwk()


@pytest.fixture(scope="module")
def public(private: dict[str, Any]) -> dict[str, Any]:
    return jose_safe.public_jwk(private)


def _keys(private: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {private["kid"]: private}


def test_a_published_encryption_key_is_rsa_4096_for_rsa_oaep_256(public: dict[str, Any]) -> None:
    assert public["use"] == "enc"
    assert public["alg"] == "RSA-OAEP-256"
    assert "d" not in public
    jose_safe.check_encryption_key(public)


def test_what_was_encrypted_to_our_key_decrypts(
    private: dict[str, Any], public: dict[str, Any]
) -> None:
    token = jose_safe.encrypt(b"the case" * 1000, public)
    header = jwe.get_unverified_header(token)
    assert (header["alg"], header["enc"], header["kid"]) == (
        "RSA-OAEP-256",
        "A256GCM",
        public["kid"],
    )
    assert jose_safe.decrypt(token, _keys(private), max_bytes=1 << 20) == b"the case" * 1000


def test_a_jwe_larger_than_the_libraries_cap_decrypts_within_our_bound(
    private: dict[str, Any], public: dict[str, Any]
) -> None:
    plaintext = b"x" * (1024 * 1024)
    token = jose_safe.encrypt(plaintext, public)
    assert len(token) > 250 * 1024
    assert jose_safe.decrypt(token, _keys(private), max_bytes=2 << 20) == plaintext
    with pytest.raises(DecryptionFailed, match="larger than"):
        jose_safe.decrypt(token, _keys(private), max_bytes=len(token) - 1)


def test_our_jwe_is_standard_python_jose_and_joserfc_decrypt_it_and_we_theirs(
    private: dict[str, Any], public: dict[str, Any]
) -> None:
    plaintext = bytes(range(256)) * 5000  # over python-jose's 250 KB cap, unaligned to blocks
    ours = jose_safe.encrypt(memoryview(plaintext), public)
    jwe.JWE_SIZE_LIMIT = max(jwe.JWE_SIZE_LIMIT, 2 << 20)
    assert jwe.decrypt(ours, private) == plaintext
    # joserfc caps a ciphertext at 64 KB unless its registry says more.
    registry = rfc_jwe.JWERegistry(algorithms=["RSA-OAEP-256", "A256GCM"])
    registry.max_ciphertext_length = 2 << 20
    opened = rfc_jwe.decrypt_compact(ours, RSAKey.import_key(private), registry=registry)
    assert opened.plaintext == plaintext

    by_jose = jwe.encrypt(
        plaintext, public, encryption="A256GCM", algorithm="RSA-OAEP-256", kid=public["kid"]
    )
    by_joserfc = rfc_jwe.encrypt_compact(
        {"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": public["kid"]},
        plaintext,
        RSAKey.import_key(public),
        registry=registry,
    ).encode()
    for theirs in (by_jose, by_joserfc):
        assert jose_safe.decrypt(theirs, _keys(private), max_bytes=2 << 20) == plaintext


@pytest.mark.parametrize(
    "damage",
    [
        lambda parts: parts[:4],  # four parts
        lambda parts: [*parts, b""],  # six parts
        lambda parts: [parts[0], parts[1], parts[2], parts[3][:-1], parts[3][-1:] + parts[4]],
        lambda parts: [*parts[:3], parts[3].replace(b"-", b"+").replace(b"_", b"/"), parts[4]],
        lambda parts: [*parts[:4], parts[4] + b"=="],
        lambda parts: [parts[0] + b"x", *parts[1:]],  # the header, which is the AAD
        lambda parts: [*parts[:2], parts[2][:-2], *parts[3:]],  # a short IV
    ],
)
def test_a_jwe_not_exactly_as_the_compact_serialization_says_is_refused(
    private: dict[str, Any], public: dict[str, Any], damage: Any
) -> None:
    plaintext = bytes(range(256)) * 40
    parts = jose_safe.encrypt(plaintext, public).split(b".")
    assert any(b"-" in p or b"_" in p for p in parts[3:4])
    with pytest.raises(DecryptionFailed):
        jose_safe.decrypt(b".".join(damage(parts)), _keys(private), max_bytes=1 << 20)


def test_a_tampered_ciphertext_is_refused(private: dict[str, Any], public: dict[str, Any]) -> None:
    parts = jose_safe.encrypt(b"the case", public).split(b".")
    ciphertext = bytearray(base64url_decode(parts[3]))
    ciphertext[0] ^= 1
    parts[3] = base64url_encode(bytes(ciphertext))
    with pytest.raises(DecryptionFailed):
        jose_safe.decrypt(b".".join(parts), _keys(private), max_bytes=1 << 20)


@pytest.mark.parametrize(
    ("algorithm", "encryption", "zip_"),
    [
        ("RSA-OAEP", "A256GCM", None),
        ("RSA-OAEP-256", "A128GCM", None),
        ("RSA-OAEP-256", "A256GCM", "DEF"),
    ],
)
def test_other_algorithms_and_compression_are_refused_before_decrypting(
    private: dict[str, Any],
    public: dict[str, Any],
    algorithm: str,
    encryption: str,
    zip_: str | None,
) -> None:
    token = jwe.encrypt(
        b"the case",
        jose_safe.public_jwk(public) | {"alg": algorithm},
        encryption=encryption,
        algorithm=algorithm,
        zip=zip_,
        kid=public["kid"],
    )
    with pytest.raises(DecryptionFailed, match="accepted"):
        jose_safe.decrypt(token, _keys(private), max_bytes=1 << 20)


def test_an_unknown_kid_or_another_key_under_our_kid_is_refused(
    private: dict[str, Any], public: dict[str, Any]
) -> None:
    other = jose_safe.generate_encryption_jwk()
    unknown = jose_safe.encrypt(b"the case", jose_safe.public_jwk(other))
    with pytest.raises(DecryptionFailed, match="not encrypted to a key of ours"):
        jose_safe.decrypt(unknown, _keys(private), max_bytes=1 << 20)
    disguised = jose_safe.encrypt(b"the case", jose_safe.public_jwk(other) | {"kid": public["kid"]})
    with pytest.raises(DecryptionFailed, match="does not decrypt"):
        jose_safe.decrypt(disguised, _keys(private), max_bytes=1 << 20)


def test_a_signing_key_never_decrypts(public: dict[str, Any]) -> None:
    signing = jose_safe.generate_private_jwk("RS256", rsa_bits=2048)
    token = jose_safe.encrypt(b"the case", public)
    with pytest.raises(DecryptionFailed):
        jose_safe.decrypt(token, {public["kid"]: signing}, max_bytes=1 << 20)


@pytest.mark.parametrize(
    "change",
    [{"use": "sig"}, {"alg": "RSA-OAEP"}, {"kty": "EC"}, {"kid": ""}],
)
def test_a_published_key_we_would_not_encrypt_to_is_refused(
    public: dict[str, Any], change: dict[str, str]
) -> None:
    with pytest.raises(ValueError, match=r"\w"):
        jose_safe.check_encryption_key(public | change)


def test_an_rsa_key_under_4096_bits_is_refused_for_encryption() -> None:
    small = jose_safe.public_jwk(jose_safe.generate_private_jwk("RS256", rsa_bits=2048))
    with pytest.raises(ValueError, match="4096"):
        jose_safe.check_encryption_key(small | {"use": "enc", "alg": "RSA-OAEP-256"})


def _receipt(signing: dict[str, Any], **claims: Any) -> str:
    return jose_safe.sign(
        {"iss": "urn:a", "aud": "urn:b", "sub": "case", "iat": int(time.time()), "jti": "j"}
        | claims,
        signing,
        token_type="receipt+jwt",
    )


def test_a_signed_document_verifies_with_its_key_typ_issuer_and_audience() -> None:
    signing = jose_safe.generate_private_jwk("ES256")
    keys = {signing["kid"]: jose_safe.public_jwk(signing)}
    claims = jose_safe.verify_document(
        _receipt(signing, status="received"),
        keys,
        token_type="receipt+jwt",
        issuer="urn:a",
        audience="urn:b",
    )
    assert claims["status"] == "received"
    for kwargs in (
        {"token_type": "at+jwt", "issuer": "urn:a", "audience": "urn:b"},
        {"token_type": "receipt+jwt", "issuer": "urn:x", "audience": "urn:b"},
        {"token_type": "receipt+jwt", "issuer": "urn:a", "audience": "urn:x"},
    ):
        with pytest.raises(TokenRejected):
            jose_safe.verify_document(_receipt(signing), keys, **kwargs)
    other = jose_safe.generate_private_jwk("ES256") | {"kid": signing["kid"]}
    with pytest.raises(TokenRejected):
        jose_safe.verify_document(
            _receipt(other), keys, token_type="receipt+jwt", issuer="urn:a", audience="urn:b"
        )


def test_an_encryption_key_never_verifies_a_signature(public: dict[str, Any]) -> None:
    signing = jose_safe.generate_private_jwk("ES256")
    token = jws.sign({"iss": "urn:a"}, signing, algorithm="ES256", headers={"kid": public["kid"]})
    with pytest.raises(TokenRejected, match="not a signing key"):
        jose_safe.verify_document(
            token, {public["kid"]: public}, token_type="JWT", issuer="urn:a", audience="urn:b"
        )
