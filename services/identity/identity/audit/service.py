"""The audit trail of security events: logins, lockouts, refresh reuse, key rotation, roles,
second factors, and an account's life (invitation, password and address changes, disabling)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from identity.audit.models import AuditEvent
from identity.audit.repository import AuditRepository
from identity.clock import Clock


class AuditAction(StrEnum):
    LOGIN = "login"
    LOCKOUT = "lockout"
    TOKEN_REFRESH = "token_refresh"
    REFRESH_REUSE = "refresh_token_reuse"
    LOGOUT = "logout"
    CLIENT_TOKEN = "client_token"
    KEY_ROTATION = "key_rotation"
    KEY_RETIREMENT = "key_retirement"
    ROLE_CHANGE = "role_change"
    ACCOUNT_CREATED = "account_created"
    ACCOUNT_ERASED = "account_erased"
    CLIENT_CREATED = "client_created"
    TENANT_CREATED = "tenant_created"
    TENANT_SETTINGS = "tenant_settings"
    PASSWORD_RESET_REQUESTED = "password_reset_requested"
    PASSWORD_RESET = "password_reset"
    MFA_ENROLMENT = "mfa_enrolment"
    MFA_RESET = "mfa_reset"
    AUTHORIZATION_CODE = "authorization_code"
    AUTHORIZATION_CODE_REUSE = "authorization_code_reuse"
    ACCOUNT_ADDRESS_RELEASED = "account_address_released"
    ACCOUNT_DISABLED = "account_disabled"
    ACCOUNT_ENABLED = "account_enabled"
    PASSWORD_CHANGE = "password_change"
    STAFF_INVITED = "staff_invited"
    INVITATION_ACCEPTED = "invitation_accepted"
    EMAIL_CHANGE_REQUESTED = "email_change_requested"
    EMAIL_CHANGE = "email_change"


@dataclass(frozen=True)
class Actor:
    """Who acts, and from where."""

    subject: str | None
    client_ip: str | None = None


class AuditLog:
    def __init__(self, events: AuditRepository, clock: Clock) -> None:
        self.events = events
        self.clock = clock

    async def record(
        self,
        action: AuditAction,
        *,
        outcome: str = "success",
        actor: Actor | None = None,
        tenant: str | None = None,
        subject: str | None = None,
        details: Mapping[str, str | int | list[str]] | None = None,
    ) -> None:
        await self.events.add(
            AuditEvent(
                at=self.clock.now(),
                action=action.value,
                outcome=outcome,
                tenant_ags=tenant,
                actor=actor.subject if actor else None,
                subject=subject,
                client_ip=actor.client_ip if actor else None,
                details=json.dumps(dict(details), sort_keys=True) if details else None,
            )
        )

    async def list(self, *, tenant: str | None, action: str | None) -> Sequence[AuditEvent]:
        return await self.events.list(tenant_ags=tenant, action=action)
