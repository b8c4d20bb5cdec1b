from __future__ import annotations

import base64
import binascii
from typing import Annotated, Literal

from fastapi import Depends
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from servicekit.botcheck import BotcheckSettings
from servicekit.dependencies import app_state
from servicekit.mail import Letterhead, MailAddress, MailSettings
from servicekit.mail.addresses import refuse_line_breaks
from servicekit.settings import Environment

DEVELOPMENT_KEY_ENCRYPTION_KEY = "ZGV2ZWxvcG1lbnQtb25seS1rZXktZG8tbm90LXVzZSE"
"""32 bytes, base64url: encrypts signing keys at rest on a developer's machine, nowhere else."""


TrustLevel = Literal["low", "substantial", "high"]
"""eIDAS levels of assurance, as a Rathaus token's ``acr`` names them."""


class ExternalIssuer(BaseModel):
    """An OpenID Connect provider whose ID tokens sign citizens in (e.g. a Keycloak that
    brokers BundID): its tokens name this ``issuer``, are meant for ``audience`` (our client
    id there) and are signed with keys of ``jwks_url``; ``acr_levels`` says which of its
    ``acr`` values mean which level (a token with another one is refused)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$", examples=["bundid"])
    issuer: str = Field(min_length=1, max_length=500)
    jwks_url: str = Field(pattern=r"^https?://", max_length=500)
    audience: str = Field(min_length=1, max_length=200)
    acr_levels: dict[str, TrustLevel] = Field(min_length=1)


class MailLetterhead(BaseModel):
    """Who a municipality's mails come from and what their footer says; the sender's name
    is the municipality's own name where none is set."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sender_name: Annotated[str, Field(max_length=200)] | None = None
    reply_to: MailAddress | None = None
    imprint: Annotated[str, Field(max_length=1000)] | None = None
    imprint_url: Annotated[str, Field(pattern=r"^https?://", max_length=500)] | None = None
    privacy_url: Annotated[str, Field(pattern=r"^https?://", max_length=500)] | None = None

    @field_validator("sender_name")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        return None if value is None else refuse_line_breaks("sender_name", value)

    def for_municipality(self, name: str) -> Letterhead:
        return Letterhead(
            # A municipality's name was typed by an admin: one line, whatever they typed.
            sender_name=self.sender_name or " ".join(name.split()),
            reply_to=self.reply_to,
            imprint=self.imprint,
            imprint_url=self.imprint_url,
            privacy_url=self.privacy_url,
        )


class IdentitySettings(MailSettings, BotcheckSettings):
    """Settings of the identity service, read from ``IDENTITY_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="IDENTITY_", extra="ignore", frozen=True)

    service_name: str = "identity"
    port: int = 8001
    database_url: str = "sqlite+aiosqlite:///var/identity.db"

    signing_algorithm: Literal["RS256", "ES256"] = "RS256"
    rsa_key_bits: int = Field(default=3072, ge=3072)
    key_encryption_key: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_KEY_ENCRYPTION_KEY),
        description="base64url of 32 random bytes; encrypts private signing keys at rest",
    )
    access_token_ttl_s: int = Field(default=300, ge=30, le=3600)
    refresh_token_ttl_s: int = Field(default=14 * 24 * 3600, ge=300)

    password_min_length: int = Field(default=12, ge=8)
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=8)
    argon2_parallelism: int = Field(default=4, ge=1)

    lockout_threshold: int = Field(default=5, ge=1, description="failures per account")
    lockout_ip_threshold: int = Field(default=50, ge=1, description="failures per client IP")
    lockout_base_s: int = Field(default=60, ge=1, description="first lock; doubles each time")
    lockout_max_s: int = Field(default=3600, ge=1)

    external_issuers: list[ExternalIssuer] = Field(
        default_factory=list, description="Identity providers citizens may sign in with"
    )

    email_verification_required: bool | None = Field(
        default=None,
        description=(
            "Password logins need a confirmed e-mail address; unset: required in production, "
            "not in development and tests"
        ),
    )
    tenant_email_verification_required: dict[str, bool] = Field(
        default_factory=dict, description="Per municipality (AGS), instead of the above"
    )
    password_reset_ttl_minutes: int = Field(
        default=30, ge=5, le=24 * 60, description="How long a mailed password-reset link works"
    )
    password_reset_mail_interval_s: int = Field(
        default=60,
        ge=0,
        description="At most one reset mail per account in this time (no mail flood)",
    )
    staff_invitation_ttl_hours: int = Field(
        default=72, ge=1, le=14 * 24, description="How long a mailed staff invitation works"
    )
    email_change_ttl_minutes: int = Field(
        default=60,
        ge=5,
        le=24 * 60,
        description="How long the code that confirms a new e-mail address works",
    )
    mfa_required: bool | None = Field(
        default=None,
        description=(
            "Clerks, admins and platform admins log in with a second factor (TOTP); unset: "
            "required in production, not in development and tests"
        ),
    )
    tenant_mfa_required: dict[str, bool] = Field(
        default_factory=dict, description="Per municipality (AGS), instead of the above"
    )
    mfa_challenge_ttl_s: int = Field(
        default=300, ge=60, le=900, description="How long the code step of a login may wait"
    )
    mfa_issuer: str = Field(
        default="Rathaus",
        max_length=60,
        pattern=r"^[^:]+$",
        description="Issuer shown by authenticator apps (followed by the AGS)",
    )
    mail_letterhead: MailLetterhead = Field(
        default_factory=MailLetterhead, description="Sender, reply-to and footer of the mails"
    )
    tenant_mail_letterheads: dict[str, MailLetterhead] = Field(
        default_factory=dict, description="Per municipality (AGS), instead of mail_letterhead"
    )

    @field_validator("key_encryption_key")
    @classmethod
    def _is_32_bytes(cls, value: SecretStr) -> SecretStr:
        key_encryption_key_bytes(value)
        return value

    def insecure_settings(self) -> list[str]:
        problems = super().insecure_settings()
        if self.key_encryption_key.get_secret_value() == DEVELOPMENT_KEY_ENCRYPTION_KEY:
            problems.append("key_encryption_key: the development key is public; set your own")
        if self.argon2_memory_kib < 19456 or self.argon2_time_cost < 2:
            problems.append("argon2_*: below the OWASP minimum (19 MiB, 2 iterations)")
        if self.mfa_required is False or False in self.tenant_mfa_required.values():
            problems.append("mfa_required: staff log in with a second factor in production")
        return problems

    def email_verification_required_for(self, tenant: str) -> bool:
        if tenant in self.tenant_email_verification_required:
            return self.tenant_email_verification_required[tenant]
        if self.email_verification_required is not None:
            return self.email_verification_required
        return self.environment is Environment.PRODUCTION

    def mfa_required_for(self, tenant: str) -> bool:
        """Whether the staff of municipality ``tenant`` must log in with a second factor."""
        if tenant in self.tenant_mfa_required:
            return self.tenant_mfa_required[tenant]
        if self.mfa_required is not None:
            return self.mfa_required
        return self.environment is Environment.PRODUCTION

    def letterhead_for(self, tenant: str, name: str) -> Letterhead:
        """The letterhead of municipality ``tenant`` (called ``name``)."""
        return self.tenant_mail_letterheads.get(tenant, self.mail_letterhead).for_municipality(name)


def key_encryption_key_bytes(value: SecretStr) -> bytes:
    text = value.get_secret_value()
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("key_encryption_key is not base64url") from None
    if len(raw) != 32:
        raise ValueError("key_encryption_key must be 32 bytes (base64url)")
    return raw


SettingsDep = Annotated[IdentitySettings, Depends(app_state("settings", IdentitySettings))]
