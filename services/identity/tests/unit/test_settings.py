from __future__ import annotations

import base64

import pytest
from pydantic import SecretStr, ValidationError

from identity.settings import IdentitySettings
from servicekit.auth.jose_safe import generate_private_jwk
from servicekit.settings import Environment

from ..factories import TEST_KEY_ENCRYPTION_KEY

POSTGRES = "postgresql+asyncpg://db/identity"


def test_the_public_development_key_encryption_key_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="key_encryption_key"):
        IdentitySettings(environment=Environment.PRODUCTION, database_url=POSTGRES)


def test_lowered_argon2_parameters_are_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="argon2"):
        IdentitySettings(
            environment=Environment.PRODUCTION,
            database_url=POSTGRES,
            key_encryption_key=SecretStr(TEST_KEY_ENCRYPTION_KEY),
            argon2_memory_kib=1024,
        )


def test_production_settings_with_an_own_key_are_accepted() -> None:
    settings = IdentitySettings(
        environment=Environment.PRODUCTION,
        database_url=POSTGRES,
        key_encryption_key=SecretStr(TEST_KEY_ENCRYPTION_KEY),
    )

    assert settings.signing_algorithm == "RS256"
    assert settings.rsa_key_bits >= 3072
    assert settings.access_token_ttl_s == 300


@pytest.mark.parametrize("value", ["not base64!", "c2hvcnQ"])
def test_key_encryption_key_must_be_32_bytes_of_base64url(value: str) -> None:
    with pytest.raises(ValidationError, match="key_encryption_key"):
        IdentitySettings(key_encryption_key=SecretStr(value))


def test_rsa_keys_shorter_than_3072_bits_are_refused() -> None:
    with pytest.raises(ValidationError):
        IdentitySettings(rsa_key_bits=2048)


def test_rs256_signing_keys_have_3072_bits() -> None:
    key = generate_private_jwk("RS256")
    modulus = base64.urlsafe_b64decode(key["n"] + "==")

    assert len(modulus) * 8 == 3072
    assert key["alg"] == "RS256"
