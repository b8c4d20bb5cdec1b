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
        self, account: Account, template: str, subject_key: str, context: dict[str, Any]
    ) -> None:
        locale, letterhead, time_zone = await self._letter(account.tenant_ags)
        await self.mailbox.enqueue(
            self.session,
            subject_key=subject_key,
            template=template,
            to=account.email,
            context={"email": account.email, **context},
            letterhead=letterhead,
            locale=locale,
            tenant=account.tenant_ags,
            time_zone=time_zone,
        )
