"""The mails identity writes to account holders, one method per kind of mail.

Each is idempotent per (what it is about, template): a retried request mails once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from identity.accounts.models import Account
from identity.settings import IdentitySettings
from identity.tenants.service import TenantService
from servicekit.mail import Letterhead, Mailbox, choose_locale


class AccountMail:
    def __init__(
        self,
        session: AsyncSession,
        mailbox: Mailbox,
        tenants: TenantService,
        settings: IdentitySettings,
        accept_language: str | None,
    ) -> None:
        self.session = session
        self.mailbox = mailbox
        self.tenants = tenants
        self.settings = settings
        self.accept_language = accept_language

    async def verification_code(self, account: Account, code: str) -> None:
        await self._send(account, "verification", f"account:{account.id}", {"code": code})

    async def password_reset(
        self, account: Account, reset_id: str, token: str, expires_at: datetime
    ) -> None:
        await self._send(
            account,
            "password_reset",
            f"password-reset:{reset_id}",
            {"token": token, "expires_at": expires_at},
        )

    async def password_changed(self, account: Account, reset_id: str, at: datetime) -> None:
        await self._send(account, "password_changed", f"password-reset:{reset_id}", {"at": at})

    async def password_changed_by_owner(self, account: Account, at: datetime) -> None:
        """The notice after a change with the current password (one per change)."""
        key = f"password-change:{account.id}:{at.isoformat()}"
        await self._send(account, "password_changed", key, {"at": at})

    async def account_exists(self, account: Account, at: datetime) -> None:
        """Someone registered the account's address again: the owner is told (at most once an
        hour), the registering party is answered as for a new address."""
        key = f"account-exists:{account.id}:{at:%Y-%m-%dT%H}"
        await self._send(account, "account_exists", key, {})

    async def staff_invitation(
        self, account: Account, invitation_id: str, token: str, expires_at: datetime
    ) -> None:
        roles = ", ".join(sorted(account.role_set))
        await self._send(
            account,
            "staff_invitation",
            f"invitation:{invitation_id}",
            {"token": token, "expires_at": expires_at, "roles": roles},
        )

    async def email_change(
        self, account: Account, change_id: str, new_email: str, token: str, expires_at: datetime
    ) -> None:
        """The code that confirms ``new_email``, to that address (not yet the account's)."""
        await self._send(
            account,
            "email_change",
            f"email-change:{change_id}",
            {"token": token, "expires_at": expires_at, "email": new_email},
            to=new_email,
        )

    async def email_changed(
        self, account: Account, change_id: str, old_email: str, at: datetime
    ) -> None:
        """The notice to the address the account no longer uses."""
        await self._send(
            account,
            "email_changed",
            f"email-change:{change_id}",
            {"at": at, "email": old_email, "new_email": account.email},
            to=old_email,
        )

    async def rehearse_password_reset(self, tenant_ags: str, token: str, at: datetime) -> None:
        """Render a reset mail and send nothing: asked for an address without an account, the
        answer costs about what it costs with one (no account enumeration by timing)."""
        locale, letterhead, time_zone = await self._letter(tenant_ags)
        self.mailbox.templates.render(
            "password_reset",
            {"email": "nobody@example.org", "token": token, "expires_at": at},
            letterhead=letterhead,
            locale=locale,
            tenant=tenant_ags,
            time_zone=time_zone,
        )

    async def _letter(self, tenant_ags: str) -> tuple[str, Letterhead, str]:
        tenant = await self.tenants.get(tenant_ags)
        settings = await self.tenants.settings(tenant_ags)
        locale = choose_locale(
            self.accept_language, self.mailbox.templates.locales, settings.default_locale
        )
        letterhead = self.settings.letterhead_for(tenant_ags, tenant.name)
        return locale, letterhead, settings.timezone

    async def _send(
        self,
        account: Account,
        template: str,
        subject_key: str,
        context: dict[str, Any],
        *,
        to: str | None = None,
    ) -> None:
        locale, letterhead, time_zone = await self._letter(account.tenant_ags)
        await self.mailbox.enqueue(
            self.session,
            subject_key=subject_key,
            template=template,
            to=to or account.email,
            context={"email": account.email, **context},
            letterhead=letterhead,
            locale=locale,
            tenant=account.tenant_ags,
            time_zone=time_zone,
        )
