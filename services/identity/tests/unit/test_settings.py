from __future__ import annotations

import base64
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from identity.settings import IdentitySettings
from servicekit.auth.jose_safe import generate_private_jwk
from servicekit.settings import Environment

from ..factories import TEST_KEY_ENCRYPTION_KEY

POSTGRES = "postgresql+asyncpg://db/identity"
SENDER = "konto@musterstadt.example"


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


PRODUCTION: dict[str, Any] = {
    "environment": Environment.PRODUCTION,
    "database_url": POSTGRES,
    "key_encryption_key": TEST_KEY_ENCRYPTION_KEY,
    "mail_smtp_host": "mail.musterstadt.example",
    "mail_from_address": SENDER,
    "botcheck_secret": "a-botcheck-secret-of-this-deployment-0001",
}


def test_production_settings_with_an_own_key_and_an_smtp_server_are_accepted() -> None:
    settings = IdentitySettings.model_validate(PRODUCTION)

    assert settings.signing_algorithm == "RS256"
    assert settings.rsa_key_bits >= 3072
    assert settings.access_token_ttl_s == 300
    assert settings.email_verification_required_for("06999001") is True


def test_production_refuses_to_start_without_an_smtp_server() -> None:
    with pytest.raises(ValidationError, match="IDENTITY_MAIL_SMTP_HOST"):
        IdentitySettings.model_validate({**PRODUCTION, "mail_smtp_host": None})


def test_a_confirmed_address_is_required_in_production_and_where_a_municipality_says_so() -> None:
    development = IdentitySettings(tenant_email_verification_required={"06999002": True})
    relaxed = IdentitySettings.model_validate(
        {**PRODUCTION, "tenant_email_verification_required": {"06999002": False}}
    )

    assert development.email_verification_required_for("06999001") is False
    assert development.email_verification_required_for("06999002") is True
    assert relaxed.email_verification_required_for("06999001") is True
    assert relaxed.email_verification_required_for("06999002") is False


def test_staff_need_a_second_factor_in_production_and_where_a_municipality_says_so() -> None:
    development = IdentitySettings(tenant_mfa_required={"06999002": True})
    production = IdentitySettings.model_validate(PRODUCTION)

    assert development.mfa_required_for("06999001") is False
    assert development.mfa_required_for("06999002") is True
    assert production.mfa_required_for("06999001") is True
    assert IdentitySettings(mfa_required=True).mfa_required_for("06999001") is True


def test_production_refuses_staff_logins_without_a_second_factor() -> None:
    with pytest.raises(ValidationError, match="mfa_required"):
        IdentitySettings.model_validate({**PRODUCTION, "mfa_required": False})
    with pytest.raises(ValidationError, match="mfa_required"):
        IdentitySettings.model_validate({**PRODUCTION, "tenant_mfa_required": {"06999002": False}})


def test_the_letterhead_is_the_municipality_s_own_unless_set() -> None:
    settings = IdentitySettings.model_validate(
        {
            "mail_letterhead": {"privacy_url": "https://rathaus.example/datenschutz"},
            "tenant_mail_letterheads": {
                "06999002": {"sender_name": "Bürgerbüro Nachbarstadt", "reply_to": SENDER}
            },
        }
    )

    default = settings.letterhead_for("06999001", "Muster\r\nstadt ")
    own = settings.letterhead_for("06999002", "Nachbarstadt")

    assert (default.sender_name, default.privacy_url) == (
        "Muster stadt",
        "https://rathaus.example/datenschutz",
    )
    assert (own.sender_name, own.reply_to, own.privacy_url) == (
        "Bürgerbüro Nachbarstadt",
        SENDER,
        None,
    )


@pytest.mark.parametrize(
    "letterhead",
    [{"reply_to": "not an address"}, {"sender_name": "Amt\r\nBcc: x@example.org"}],
)
def test_a_letterhead_with_a_bad_address_or_a_line_break_is_refused(
    letterhead: dict[str, str],
) -> None:
    with pytest.raises(ValidationError):
        IdentitySettings.model_validate({"mail_letterhead": letterhead})


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
