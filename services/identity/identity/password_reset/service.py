"""Password reset by mail: a single-use code with a short life, mailed to the address.

Asking is answered the same whether or not the address has an account (nor which
municipality serves it), after about the same work: without an account the mail is rendered
and dropped. The code is kept as its SHA-256 (it is 256 random bits: nothing to guess). Setting
the password with it ends every refresh token of the account and every other code, confirms
the address (the code reached it) and mails a notice.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

from identity.accounts.passwords import Passwords
from identity.accounts.repository import AccountRepository
from identity.accounts.service import normalise_email, token_hash
from identity.audit.service import Actor, AuditAction, AuditLog
from identity.clock import Clock
from identity.mail.service import AccountMail
from identity.password_reset.errors import ResetCodeSpent, UnknownResetCode
from identity.password_reset.models import INVITATION, RESET, PasswordReset
from identity.password_reset.repository import PasswordResetRepository
from identity.settings import IdentitySettings
from identity.tenants.errors import TenantNotFound
from identity.tenants.service import TenantService


class PasswordResets:
    def __init__(
        self,
        resets: PasswordResetRepository,
        accounts: AccountRepository,
        tenants: TenantService,
        passwords: Passwords,
        audit: AuditLog,
        clock: Clock,
        mail: AccountMail,
        settings: IdentitySettings,
    ) -> None:
        self.resets = resets
        self.accounts = accounts
        self.tenants = tenants
        self.passwords = passwords
        self.audit = audit
        self.clock = clock
        self.mail = mail
        self.settings = settings

    async def request(self, tenant_ags: str, email: str, actor: Actor) -> None:
        """Mail a reset code to the account with ``email``, if there is one (see the module)."""
        now = self.clock.now()
        code = secrets.token_urlsafe(32)
        try:
            await self.tenants.get(tenant_ags)
        except TenantNotFound:
            return
        account = await self.accounts.by_email(tenant_ags, normalise_email(email))
        expires_at = now + timedelta(minutes=self.settings.password_reset_ttl_minutes)
        if account is None or account.disabled_at is not None:
            await self.mail.rehearse_password_reset(tenant_ags, code, expires_at)
            reason = "unknown_account" if account is None else "disabled"
            await self._audit_request(actor, tenant_ags, None, "failure", reason)
            return
        latest = await self.resets.latest_created_at(account.id)
        interval = timedelta(seconds=self.settings.password_reset_mail_interval_s)
        if latest is not None and now - latest < interval:
            await self.mail.rehearse_password_reset(tenant_ags, code, expires_at)
            await self._audit_request(actor, tenant_ags, account.id, "failure", "too_soon")
            return
        reset = await self.resets.add(
            PasswordReset(
                id=str(uuid.uuid4()),
                account_id=account.id,
                token_hash=token_hash(code),
                created_at=now,
                expires_at=expires_at,
            )
        )
        await self.mail.password_reset(account, reset.id, code, expires_at)
        await self._audit_request(actor, tenant_ags, account.id, "success", None)

    async def _audit_request(
        self, actor: Actor, tenant: str, subject: str | None, outcome: str, reason: str | None
    ) -> None:
        await self.audit.record(
            AuditAction.PASSWORD_RESET_REQUESTED,
            outcome=outcome,
            actor=actor,
            tenant=tenant,
            subject=subject,
            details={"reason": reason} if reason else None,
        )

    async def confirm(
        self, code: str, password: str, actor: Actor, *, purpose: str = RESET
    ) -> None:
        """Set the password with a mailed code of ``purpose`` (a reset, or a staff member's
        invitation): UnknownResetCode (also for a code of the other purpose), ResetCodeSpent
        (used or expired; the caller commits the audit of it) or WeakPassword."""
        now = self.clock.now()
        reset = await self.resets.by_hash(token_hash(code))
        if reset is None or reset.purpose != purpose:
            raise UnknownResetCode()
        account = await self.accounts.get(reset.account_id)
        if account is None or account.disabled_at is not None:
            raise UnknownResetCode()
        if reset.used_at is None and reset.expires_at > now:
            self.passwords.ensure_acceptable(password, email=account.email)
        if not await self.resets.claim(reset.id, now):
            reason = "used" if reset.used_at is not None else "expired"
            await self.audit.record(
                AuditAction.PASSWORD_RESET if purpose == RESET else AuditAction.INVITATION_ACCEPTED,
                outcome="failure",
                actor=actor,
                tenant=account.tenant_ags,
                subject=account.id,
                details={"reason": reason},
            )
            raise ResetCodeSpent()
        account.password_hash = await self.passwords.hash(password)
        account.email_verified_at = account.email_verified_at or now
        account.email_verification_hash = None
        await self.accounts.flush()
        await self.resets.end_all_of(account.id, now)
        await self.accounts.revoke_refresh_tokens(account.id, now)
        if purpose == INVITATION:
            # The first password of a staff member: nothing changed that they should hear of.
            await self.audit.record(
                AuditAction.INVITATION_ACCEPTED,
                actor=actor,
                tenant=account.tenant_ags,
                subject=account.id,
            )
            return
        await self.mail.password_changed(account, reset.id, now)
        await self.audit.record(
            AuditAction.PASSWORD_RESET, actor=actor, tenant=account.tenant_ags, subject=account.id
        )
