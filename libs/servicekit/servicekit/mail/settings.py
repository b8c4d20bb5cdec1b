"""The settings of a service that mails people, and the SMTP server they name.

``class BookingSettings(MailSettings)`` instead of ``(ServiceSettings)``: the service's env
prefix applies (``BOOKING_MAIL_SMTP_HOST``, ...). Production refuses to start without an SMTP
server, since mail that never leaves would fail citizens silently.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, field_validator, model_validator

from servicekit.mail.addresses import checked_address, refuse_line_breaks
from servicekit.settings import Environment, ServiceSettings

PLACEHOLDER_FROM_ADDRESS = "rathaus@rathaus.example"


class SmtpSecurity(StrEnum):
    NONE = "none"
    """Plain SMTP: only for a relay on the same host or the local sink."""
    STARTTLS = "starttls"
    """Plain connection upgraded with STARTTLS before anything else (port 587); required."""
    TLS = "tls"
    """TLS from the first byte (implicit TLS, port 465)."""


@dataclass(frozen=True)
class SmtpServer:
    """Where and how mail is handed over."""

    host: str
    port: int
    security: SmtpSecurity = SmtpSecurity.STARTTLS
    username: str | None = None
    password: SecretStr | None = None
    timeout_s: float = 30.0
    tls_context: ssl.SSLContext | None = None
    """Whom to trust instead of the system's certificate store (an internal relay's CA)."""


class MailSettings(ServiceSettings):
    """Settings of a service that sends mail (see the module's docstring)."""

    mail_smtp_host: str | None = Field(
        default=None, description="The SMTP server (relay) mail is handed to; none: kept queued"
    )
    mail_smtp_port: int | None = Field(
        default=None, ge=1, le=65535, description="Default: 587 (starttls), 465 (tls), 25"
    )
    mail_smtp_security: SmtpSecurity = SmtpSecurity.STARTTLS
    mail_smtp_username: str | None = None
    mail_smtp_password: SecretStr | None = None
    mail_smtp_timeout_s: float = Field(default=30.0, gt=0, le=300)
    mail_smtp_ca_file: Path | None = Field(
        default=None, description="PEM certificates to trust for the SMTP server's TLS"
    )
    mail_from_address: str = Field(
        default=PLACEHOLDER_FROM_ADDRESS,
        description="The address mail is sent from (and bounces return to)",
    )
    mail_from_name: str = Field(
        default="Rathaus", description="The sender's name where a municipality names none"
    )
    mail_templates_dir: Path | None = Field(
        default=None,
        description="A municipality's own mail templates, searched before the service's",
    )
    mail_dispatch_interval_s: float = Field(default=2.0, gt=0)
    mail_give_up_after_hours: float = Field(
        default=48.0, gt=0, description="How long a mail the server does not take is retried"
    )

    @field_validator("mail_from_address")
    @classmethod
    def _from_address_is_valid(cls, value: str) -> str:
        return checked_address(value)

    @field_validator("mail_from_name")
    @classmethod
    def _from_name_is_one_line(cls, value: str) -> str:
        return refuse_line_breaks("mail_from_name", value)

    @model_validator(mode="after")
    def _login_has_both_parts(self) -> Self:
        if (self.mail_smtp_username is None) != (self.mail_smtp_password is None):
            raise ValueError("mail_smtp_username and mail_smtp_password go together")
        return self

    @model_validator(mode="after")
    def _production_mails_through_an_smtp_server(self) -> Self:
        if self.environment is Environment.PRODUCTION and not self.mail_smtp_host:
            prefix = str(self.model_config.get("env_prefix", "")).upper()
            raise ValueError(
                "no SMTP server configured: production mails citizens (confirmations, codes) "
                f"and refuses to start without a server to hand them to; set {prefix}"
                f"MAIL_SMTP_HOST (and {prefix}MAIL_SMTP_PORT, _SECURITY, _USERNAME, _PASSWORD)"
            )
        return self

    def insecure_settings(self) -> list[str]:
        problems = super().insecure_settings()
        if self.mail_smtp_security is SmtpSecurity.NONE and self.mail_smtp_username:
            problems.append(
                "mail_smtp_security: none would send the SMTP password unencrypted; use "
                "starttls or tls"
            )
        if self.mail_from_address == PLACEHOLDER_FROM_ADDRESS:
            problems.append("mail_from_address: a placeholder; set the address you send from")
        return problems

    @property
    def mail_give_up_after(self) -> timedelta:
        return timedelta(hours=self.mail_give_up_after_hours)

    def smtp_server(self) -> SmtpServer | None:
        """The configured SMTP server, or None when there is none (development)."""
        if not self.mail_smtp_host:
            return None
        default_port = {SmtpSecurity.NONE: 25, SmtpSecurity.STARTTLS: 587, SmtpSecurity.TLS: 465}
        context = None
        if self.mail_smtp_ca_file is not None:
            context = ssl.create_default_context(cafile=str(self.mail_smtp_ca_file))
        return SmtpServer(
            host=self.mail_smtp_host,
            port=self.mail_smtp_port or default_port[self.mail_smtp_security],
            security=self.mail_smtp_security,
            username=self.mail_smtp_username,
            password=self.mail_smtp_password,
            timeout_s=self.mail_smtp_timeout_s,
            tls_context=context,
        )
