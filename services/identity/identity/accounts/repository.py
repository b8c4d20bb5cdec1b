from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from identity.accounts.models import Account
from identity.tokens.models import RefreshToken


class AccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, account_id: str) -> Account | None:
        return await self.session.get(Account, account_id)

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

    async def add(self, account: Account) -> bool:
        """Insert ``account``; False when its email is taken in the tenant."""
        try:
            async with self.session.begin_nested():
                self.session.add(account)
        except IntegrityError:
            return False
        return True

    async def flush(self) -> None:
        await self.session.flush()

    async def revoke_refresh_tokens(self, account_id: str, now: datetime) -> None:
        """End every login of the account: none of its refresh tokens works any more."""
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.account_id == account_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
