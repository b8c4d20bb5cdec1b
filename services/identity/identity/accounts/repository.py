from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from identity.accounts.models import Account, EmailChange
from identity.login.models import ExternalIdentity
from identity.tokens.models import RefreshToken
from servicekit.repository import Repository, SingleUseRepository


class AccountRepository(Repository[Account]):
    model = Account

    async def by_email(self, tenant_ags: str, email: str) -> Account | None:
        return await self.session.scalar(
            select(Account).where(Account.tenant_ags == tenant_ags, Account.email == email)
        )

    async def by_verification_hash(self, token_hash: str) -> Account | None:
        return await self.session.scalar(
            select(Account).where(Account.email_verification_hash == token_hash)
        )

    async def in_tenant(self, tenant_ags: str) -> Sequence[Account]:
        result = await self.session.scalars(
            select(Account).where(Account.tenant_ags == tenant_ags).order_by(Account.email)
        )
        return result.all()

    async def add_if_email_free(self, account: Account) -> bool:
        """Insert ``account``; False when its email is taken in the tenant."""
        try:
            async with self.session.begin_nested():
                self.session.add(account)
        except IntegrityError:
            return False
        return True

    async def change_email_if_free(self, account: Account, email: str) -> bool:
        """Give ``account`` the address; False (nothing changes) when another account of the
        tenant has it."""
        before = account.email
        try:
            async with self.session.begin_nested():
                account.email = email
                await self.session.flush()
        except IntegrityError:
            account.email = before
            return False
        return True

    async def revoke_refresh_tokens(self, account_id: str, now: datetime) -> None:
        """End every login of the account: none of its refresh tokens works any more."""
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.account_id == account_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    async def unlink_external_identities(self, account_id: str) -> None:
        """No identity provider's name for the person leads to the account any more."""
        await self.session.execute(
            delete(ExternalIdentity).where(ExternalIdentity.account_id == account_id)
        )


class EmailChangeRepository(SingleUseRepository[EmailChange]):
    model = EmailChange

    async def by_hash(self, token_hash: str) -> EmailChange | None:
        return await self.session.scalar(
            select(EmailChange).where(EmailChange.token_hash == token_hash)
        )
