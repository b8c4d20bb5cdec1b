from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from booking.availability.schemas import MAX_SERVICES
from servicekit.botcheck import BotcheckSettings
from servicekit.dependencies import app_state
from servicekit.mail import Letterhead, MailSettings
from servicekit.settings import Environment

PLACEHOLDER_MANAGE_LINK_SECRET = "development-only-manage-link-secret-change-me"
PLACEHOLDER_PARTNER_SECRETS_KEY = "development-only-partner-secrets-key-change-me"
PRODUCTION_HOLDS_PER_ADDRESS = 20


class TenantMail(BaseModel):
    """How one municipality's booking mails look and when they go (``BOOKING_TENANT_MAIL``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sender_name: str | None = Field(default=None, description="Default: mail_from_name")
    reply_to: str | None = None
    imprint: str | None = Field(default=None, description="The Impressum in a few lines")
    imprint_url: str | None = None
    privacy_url: str | None = Field(default=None, description="The privacy notice")
    double_opt_in: bool = Field(
        default=True,
        description="A booking without an account is confirmed by a link mailed to its address",
    )
    satisfaction_mail: bool = Field(
        default=False, description="After a completed visit, one mail asking for feedback"
    )
    reminder_hours: float = Field(
        default=24.0, ge=0, le=24 * 14, description="How long before the appointment; 0: none"
    )


class BookingSettings(MailSettings, BotcheckSettings):
    """Settings of the booking service, read from ``BOOKING_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="BOOKING_", extra="ignore", frozen=True)

    service_name: str = "booking"
    port: int = 8002
    database_url: str = "sqlite+aiosqlite:///var/booking.db"

    hold_minutes: int = Field(default=10, ge=1, le=120, description="How long a hold keeps a slot")
    open_bookings_per_service: int = Field(
        default=2,
        ge=1,
        le=100,
        description="Upcoming bookings per service one citizen (account or e-mail) may have",
    )
    live_holds_per_citizen: int = Field(
        default=3, ge=1, le=100, description="Unexpired holds one account may keep at a time"
    )
    live_holds_per_address: int | None = Field(
        default=None,
        ge=1,
        le=10_000,
        description=(
            "Unexpired anonymous holds one client address may keep at a time; None: "
            f"{PRODUCTION_HOLDS_PER_ADDRESS} in production, no limit elsewhere (the address is "
            "the gateway's unless the service trusts it to forward the client's)"
        ),
    )
    live_holds_per_email: int = Field(
        default=3,
        ge=1,
        le=100,
        description="Unexpired holds awaiting the double opt-in of one e-mail address",
    )
    idempotency_ttl_hours: int = Field(
        default=24, ge=1, description="How long an Idempotency-Key is remembered"
    )
    idempotency_stale_seconds: int = Field(
        default=60,
        ge=1,
        description="After this long an unfinished request no longer blocks a retry with its key",
    )
    max_services_per_booking: int = Field(
        default=MAX_SERVICES,
        ge=1,
        le=MAX_SERVICES,
        description="The most services one appointment may combine (the contract's maximum)",
    )
    earliest_horizon_days: int = Field(
        default=92, ge=1, le=366, description="How far ahead the earliest appointment is looked for"
    )
    partner_timeout_s: float = Field(
        default=2.0, gt=0, le=30, description="How long a search waits for a partner municipality"
    )
    retention_days: int = Field(
        default=90,
        ge=0,
        description="Days after an appointment's end until its citizen's data is erased",
    )
    tenant_retention_days: dict[str, int] = Field(
        default_factory=dict, description="Per municipality (AGS), instead of retention_days"
    )
    check_in_opens_minutes: int = Field(
        default=60,
        ge=0,
        le=24 * 60,
        description="How long before the appointment a citizen may check in (it closes at its end)",
    )
    catalogue_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How long a process reuses a tenant's services, offices and opening hours",
    )
    availability_cache_seconds: float = Field(
        default=1.0, ge=0, description="How long a process reuses an availability answer"
    )
    full_slot_memory_seconds: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description=(
            "How long a process answers holds for a slot the database reported full with 409 "
            "at once (0: always ask the database)"
        ),
    )

    portal_url: str = Field(
        default="http://localhost:8000",
        description=(
            "The citizen portal: mails link to <portal_url>/bookings/<id>#token=<manage token>"
        ),
    )
    manage_link_secret: SecretStr = Field(
        default=SecretStr(PLACEHOLDER_MANAGE_LINK_SECRET),
        min_length=32,
        description=(
            "Derives each booking's manage token, so later mails (reminder, reschedule) can "
            "carry the link while the database keeps only its hash"
        ),
    )
    partner_search_requires_token: bool = Field(
        default=True,
        description=(
            "Partners ask for the earliest appointment with a client-credentials token "
            "(booking:search); off only while a partner's Rathaus still asks anonymously"
        ),
    )
    partner_secrets_key: SecretStr = Field(
        default=SecretStr(PLACEHOLDER_PARTNER_SECRETS_KEY),
        min_length=32,
        description="Seals the client secrets we use at partner municipalities' identities",
    )
    reminder_interval_s: float = Field(
        default=60.0, ge=0, description="How often each replica queues due reminders; 0: never"
    )
    reminder_batch: int = Field(default=200, ge=1, le=10_000)
    waitlist_offer_minutes: int = Field(
        default=30,
        ge=1,
        le=24 * 60,
        description="How long a freed seat is held for the waitlist's subscriber it is offered to",
    )
    waitlist_per_address: int = Field(
        default=3, ge=1, le=100, description="Live waitlist subscriptions one address may have"
    )
    waitlist_max_days: int = Field(
        default=92, ge=1, le=366, description="The longest range of days one subscription covers"
    )
    waitlist_interval_s: float = Field(
        default=30.0,
        ge=0,
        description="How often each replica hands on the seats of offers that ran out; 0: never",
    )
    tenant_mail: dict[str, TenantMail] = Field(
        default_factory=dict,
        description='Per municipality (AGS), e.g. {"06999001": {"sender_name": "Stadt X"}}',
    )

    def retention_days_for(self, tenant: str) -> int:
        return self.tenant_retention_days.get(tenant, self.retention_days)

    def mail_of(self, tenant: str) -> TenantMail:
        return self.tenant_mail.get(tenant) or TenantMail()

    def letterhead_of(self, tenant: str) -> Letterhead:
        own = self.mail_of(tenant)
        return Letterhead(
            sender_name=own.sender_name or self.mail_from_name,
            reply_to=own.reply_to,
            imprint=own.imprint,
            imprint_url=own.imprint_url,
            privacy_url=own.privacy_url,
        )

    def holds_per_address(self) -> int | None:
        if self.live_holds_per_address is not None:
            return self.live_holds_per_address
        if self.environment is Environment.PRODUCTION:
            return PRODUCTION_HOLDS_PER_ADDRESS
        return None

    def insecure_settings(self) -> list[str]:
        problems = super().insecure_settings()
        if self.manage_link_secret.get_secret_value() == PLACEHOLDER_MANAGE_LINK_SECRET:
            problems.append("manage_link_secret: the development placeholder; set a secret")
        if self.partner_secrets_key.get_secret_value() == PLACEHOLDER_PARTNER_SECRETS_KEY:
            problems.append("partner_secrets_key: the development placeholder; set a secret")
        return problems


SettingsDep = Annotated[BookingSettings, Depends(app_state("settings", BookingSettings))]
