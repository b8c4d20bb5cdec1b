"""Accounts: citizens register themselves; tenant admins create and manage their clerks."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Iterable, Sequence

from identity.accounts.errors import (
    AccountNotFound,
    EmailTaken,
    InvalidVerificationToken,
    PasswordMismatch,
    RoleNotGrantable,
)
from identity.accounts.models import Account
from identity.accounts.passwords import Passwords
from identity.accounts.repository import AccountRepository
from identity.audit.service import Actor, AuditAction, AuditLog
from identity.clock import Clock
from identity.events.models import ACCOUNT_ERASED, AccountErased
from identity.mail.service import AccountMail
from identity.tenants.access import ensure_manages_tenant
from identity.tenants.errors import SelfRegistrationClosed
from identity.tenants.service import TenantService
from servicekit.auth import Principal
from servicekit.events import Outbox

STAFF_ROLES = frozenset({"clerk", "admin"})
PLATFORM_GRANTABLE = STAFF_ROLES | {"platform_admin"}


ERASED_EMAIL_DOMAIN = "@erased.invalid"
"""An erased account's address: its id at a domain that cannot exist (RFC 2606)."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AccountService:
    def __init__(
        self,
        accounts: AccountRepository,
        tenants: TenantService,
        passwords: Passwords,
        audit: AuditLog,
        clock: Clock,
        mail: AccountMail,
        outbox: Outbox,
    ) -> None:
        self.accounts = accounts
        self.tenants = tenants
        self.passwords = passwords
        self.audit = audit
        self.clock = clock
        self.mail = mail
        self.outbox = outbox

    async def _account(
        self, tenant_ags: str, email: str, password: str, roles: Iterable[str]
    ) -> Account:
        """A new account, not yet stored (WeakPassword, TenantNotFound)."""
        await self.tenants.get(tenant_ags)
        email = normalise_email(email)
        self.passwords.ensure_acceptable(password, email=email)
        return Account(
            id=str(uuid.uuid4()),
            tenant_ags=tenant_ags,
            email=email,
            password_hash=await self.passwords.hash(password),
            roles=" ".join(sorted(set(roles))),
            created_at=self.clock.now(),
        )

    async def _new_account(
        self, tenant_ags: str, email: str, password: str, roles: Iterable[str]
    ) -> Account:
        account = await self._account(tenant_ags, email, password, roles)
        if not await self.accounts.add_if_email_free(account):
            raise EmailTaken()
        return account

    async def ensure_account(
        self, tenant_ags: str, email: str, password: str, roles: Iterable[str]
    ) -> tuple[Account, bool]:
        """The account with this email, created when missing (seeding); True when created."""
        existing = await self.accounts.by_email(tenant_ags, normalise_email(email))
        if existing is not None:
            return existing, False
        account = await self._new_account(tenant_ags, email, password, roles)
        account.email_verified_at = self.clock.now()
        await self.accounts.flush()
        return account, True

    async def register_citizen(
        self, tenant_ags: str, email: str, password: str, actor: Actor
    ) -> Account:
        """The new citizen account; for an address that has an account already, an account
        that is never stored, answered like a new one (no account enumeration), and the
        address's owner is mailed that someone tried (the work is about the same)."""
        if not (await self.tenants.settings(tenant_ags)).citizen_self_registration:
            raise SelfRegistrationClosed()
        account = await self._account(tenant_ags, email, password, ["citizen"])
        if not await self.accounts.add_if_email_free(account):
            owner = await self.accounts.by_email(tenant_ags, account.email)
            if owner is not None and owner.disabled_at is None:
                await self.mail.account_exists(owner, self.clock.now())
            await self.audit.record(
                AuditAction.ACCOUNT_CREATED,
                outcome="failure",
                actor=actor,
                tenant=tenant_ags,
                subject=owner.id if owner else None,
                details={"reason": "email_taken"},
            )
            return account
        await self._ask_to_verify(account)
        await self.audit.record(
            AuditAction.ACCOUNT_CREATED,
            actor=actor,
            tenant=tenant_ags,
            subject=account.id,
            details={"roles": ["citizen"]},
        )
        return account

    async def _ask_to_verify(self, account: Account) -> None:
        """Mail the account a code that confirms its address (in this transaction)."""
        code = secrets.token_urlsafe(32)
        account.email_verification_hash = token_hash(code)
        await self.accounts.flush()
        await self.mail.verification_code(account, code)

    async def verify_email(self, token: str) -> Account:
        account = await self.accounts.by_verification_hash(token_hash(token))
        if account is None:
            raise InvalidVerificationToken()
        account.email_verification_hash = None
        account.email_verified_at = self.clock.now()
        await self.accounts.flush()
        return account

    def _check_grantable(self, by: Principal, roles: Iterable[str]) -> None:
        allowed = PLATFORM_GRANTABLE if by.has_role("platform_admin") else STAFF_ROLES
        refused = set(roles) - allowed
        if refused:
            raise RoleNotGrantable("Not grantable here: " + ", ".join(sorted(refused)) + ".")

    async def create_staff(
        self,
        tenant_ags: str,
        email: str,
        password: str,
        roles: Sequence[str],
        by: Principal,
        actor: Actor,
    ) -> Account:
        ensure_manages_tenant(by, tenant_ags)
        self._check_grantable(by, roles)
        account = await self._new_account(tenant_ags, email, password, roles)
        # Staff confirm their address too: where logins need a confirmed one, theirs do.
        await self._ask_to_verify(account)
        await self.audit.record(
            AuditAction.ACCOUNT_CREATED,
            actor=actor,
            tenant=tenant_ags,
            subject=account.id,
            details={"roles": sorted(set(roles))},
        )
        return account

    async def get_in_tenant(self, tenant_ags: str, account_id: str, by: Principal) -> Account:
        ensure_manages_tenant(by, tenant_ags)
        account = await self.accounts.get(account_id)
        if account is None or account.tenant_ags != tenant_ags:
            raise AccountNotFound()
        return account

    async def list(self, tenant_ags: str, by: Principal) -> Sequence[Account]:
        ensure_manages_tenant(by, tenant_ags)
        return await self.accounts.in_tenant(tenant_ags)

    async def set_roles(
        self,
        tenant_ags: str,
        account_id: str,
        roles: Sequence[str],
        by: Principal,
        actor: Actor,
    ) -> Account:
        account = await self.get_in_tenant(tenant_ags, account_id, by)
        before = account.role_set
        wanted = set(roles)
        # A citizen stays a citizen; staff roles are what an admin changes.
        self._check_grantable(by, (wanted ^ before) - {"citizen"})
        if "citizen" in wanted ^ before:
            raise RoleNotGrantable("The citizen role comes with self-registration only.")
        account.roles = " ".join(sorted(wanted))
        await self.accounts.flush()
        await self.audit.record(
            AuditAction.ROLE_CHANGE,
            actor=actor,
            tenant=tenant_ags,
            subject=account.id,
            details={"before": sorted(before), "after": sorted(wanted)},
        )
        return account

    async def erase(self, account: Account, actor: Actor) -> Account:
        """Erase an account (Art. 17 DSGVO): no e-mail address, no working password, no roles,
        no login that goes on; the id stays, pseudonymous, for the audit trail. Access tokens
        already issued run out within minutes. Repeating it changes nothing more."""
        now = self.clock.now()
        if account.disabled_at is None or not account.email.endswith(ERASED_EMAIL_DOMAIN):
            # Every service erases what it keeps about the person: booking by account and
            # address, and documents those bookings' documents (booking's own event).
            erased = AccountErased(account_id=account.id, email=account.email)
            self.outbox.emit(
                self.accounts.session,
                ACCOUNT_ERASED,
                erased.model_dump(mode="json"),
                subject=account.id,
                tenant=account.tenant_ags,
            )
            account.email = f"{account.id}{ERASED_EMAIL_DOMAIN}"
            account.password_hash = await self.passwords.hash(secrets.token_urlsafe(32))
            account.email_verification_hash = None
            account.roles = ""
            account.disabled_at = account.disabled_at or now
            await self.accounts.flush()
            await self.audit.record(
                AuditAction.ACCOUNT_ERASED,
                actor=actor,
                tenant=account.tenant_ags,
                subject=account.id,
            )
        await self.accounts.revoke_refresh_tokens(account.id, now)
        # Nor does the identity provider's name for the person lead here any more.
        await self.accounts.unlink_external_identities(account.id)
        return account

    async def erase_in_tenant(
        self, tenant_ags: str, account_id: str, by: Principal, actor: Actor
    ) -> Account:
        """An administrator erases an account of the municipality on the person's request."""
        return await self.erase(await self.get_in_tenant(tenant_ags, account_id, by), actor)

    async def erase_me(self, principal: Principal, password: str, actor: Actor) -> None:
        """The person erases their own account, confirming it with their password."""
        account = await self.me(principal)
        if not await self.passwords.verify(account.password_hash, password):
            raise PasswordMismatch("Confirm the erasure with this account's password.")
        await self.erase(account, actor)

    async def me(self, principal: Principal) -> Account:
        account = await self.accounts.get(principal.subject)
        if account is None or account.tenant_ags != principal.tenant:
            raise AccountNotFound()
        return account
