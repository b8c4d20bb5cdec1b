"""Accounts: citizens register themselves; tenant admins create, invite, disable and manage
their staff; account holders change their password and address."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from identity.accounts.errors import (
    AccountClosedForGood,
    AccountNotFound,
    EmailChangeCodeSpent,
    EmailTaken,
    InvalidVerificationToken,
    OwnAccount,
    PasswordMismatch,
    RoleNotGrantable,
    UnknownEmailChangeCode,
)
from identity.accounts.models import Account, EmailChange
from identity.accounts.passwords import Passwords
from identity.accounts.repository import AccountRepository, EmailChangeRepository
from identity.audit.service import Actor, AuditAction, AuditLog
from identity.clock import Clock
from identity.events.models import ACCOUNT_ERASED, AccountErased
from identity.mail.service import AccountMail
from identity.password_reset.models import INVITATION, PasswordReset
from identity.password_reset.repository import PasswordResetRepository
from identity.settings import IdentitySettings
from identity.tenants.access import ensure_manages_tenant
from identity.tenants.errors import SelfRegistrationClosed
from identity.tenants.service import TenantService
from servicekit.auth import Principal
from servicekit.events import Outbox

STAFF_ROLES = frozenset({"clerk", "admin"})
PLATFORM_GRANTABLE = STAFF_ROLES | {"platform_admin"}


ERASED_EMAIL_DOMAIN = "@erased.invalid"
"""An erased account's address: its id at a domain that cannot exist (RFC 2606)."""

RELEASED_EMAIL_DOMAIN = "@released.invalid"
"""The address of an unconfirmed account that gave its address up to the person an identity
provider vouches for (``identity.login.external``): its id at a domain that cannot exist."""


@dataclass(frozen=True)
class Invitation:
    account: Account
    expires_at: datetime


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
        email_changes: EmailChangeRepository,
        password_codes: PasswordResetRepository,
        settings: IdentitySettings,
    ) -> None:
        self.accounts = accounts
        self.email_changes = email_changes
        self.password_codes = password_codes
        self.settings = settings
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

    async def invite_staff(
        self, tenant_ags: str, email: str, roles: Sequence[str], by: Principal, actor: Actor
    ) -> Invitation:
        """A clerk or admin account without a password, and a single-use code mailed to the
        address that sets one (``PasswordResets.confirm`` with ``INVITATION``). Inviting the
        address of a staff account that never confirmed its address again mails a new code
        (the earlier ones end); any other account with the address is EmailTaken."""
        ensure_manages_tenant(by, tenant_ags)
        self._check_grantable(by, roles)
        await self.tenants.get(tenant_ags)
        now = self.clock.now()
        email = normalise_email(email)
        account = await self.accounts.by_email(tenant_ags, email)
        if account is None:
            account = Account(
                id=str(uuid.uuid4()),
                tenant_ags=tenant_ags,
                email=email,
                # Nobody knows it: the invitation's code sets the first password.
                password_hash=await self.passwords.hash(secrets.token_urlsafe(32)),
                roles=" ".join(sorted(set(roles))),
                created_at=now,
            )
            if not await self.accounts.add_if_email_free(account):
                raise EmailTaken()
        elif (
            account.email_verified_at is not None
            or account.disabled_at is not None
            or "citizen" in account.role_set
        ):
            raise EmailTaken()
        else:
            account.roles = " ".join(sorted(set(roles)))
        await self.password_codes.end_all_of(account.id, now)
        code = secrets.token_urlsafe(32)
        invitation = await self.password_codes.add(
            PasswordReset(
                id=str(uuid.uuid4()),
                account_id=account.id,
                token_hash=token_hash(code),
                created_at=now,
                expires_at=now + timedelta(hours=self.settings.staff_invitation_ttl_hours),
                purpose=INVITATION,
            )
        )
        await self.mail.staff_invitation(account, invitation.id, code, invitation.expires_at)
        await self.audit.record(
            AuditAction.STAFF_INVITED,
            actor=actor,
            tenant=tenant_ags,
            subject=account.id,
            details={"roles": sorted(set(roles))},
        )
        return Invitation(account, invitation.expires_at)

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

    async def disable(
        self, tenant_ags: str, account_id: str, by: Principal, actor: Actor
    ) -> Account:
        """An administrator closes an account of the municipality: no login, refresh, reset
        or provider sign-in goes on from now (access tokens run out within minutes)."""
        account = await self.get_in_tenant(tenant_ags, account_id, by)
        if account.id == by.subject:
            raise OwnAccount("Another administrator of the municipality can do it.")
        now = self.clock.now()
        if account.disabled_at is None:
            account.disabled_at = now
            await self.accounts.flush()
            await self.audit.record(
                AuditAction.ACCOUNT_DISABLED, actor=actor, tenant=tenant_ags, subject=account.id
            )
        await self.accounts.revoke_refresh_tokens(account.id, now)
        return account

    async def enable(
        self, tenant_ags: str, account_id: str, by: Principal, actor: Actor
    ) -> Account:
        """An administrator opens a disabled account again; an erased account, or one that
        gave its address up to an identity provider's person, stays closed."""
        account = await self.get_in_tenant(tenant_ags, account_id, by)
        if account.email.endswith((ERASED_EMAIL_DOMAIN, RELEASED_EMAIL_DOMAIN)):
            raise AccountClosedForGood()
        if account.disabled_at is not None:
            account.disabled_at = None
            await self.accounts.flush()
            await self.audit.record(
                AuditAction.ACCOUNT_ENABLED, actor=actor, tenant=tenant_ags, subject=account.id
            )
        return account

    async def change_password(self, account: Account, password: str, actor: Actor) -> None:
        """Set a new password (the current one was checked by the caller): every login of the
        account ends (this one too), and a notice is mailed."""
        self.passwords.ensure_acceptable(password, email=account.email)
        now = self.clock.now()
        account.password_hash = await self.passwords.hash(password)
        await self.accounts.flush()
        await self.accounts.revoke_refresh_tokens(account.id, now)
        await self.mail.password_changed_by_owner(account, now)
        await self.audit.record(
            AuditAction.PASSWORD_CHANGE, actor=actor, tenant=account.tenant_ags, subject=account.id
        )

    async def request_email_change(self, account: Account, email: str, actor: Actor) -> None:
        """Mail a single-use code to the new address (the password was checked by the
        caller); the address changes only when the code comes back. Earlier codes end. A
        taken address is told only to whoever holds the code (no enumeration here)."""
        now = self.clock.now()
        await self.email_changes.end_all_of(account.id, now)
        code = secrets.token_urlsafe(32)
        change = await self.email_changes.add(
            EmailChange(
                id=str(uuid.uuid4()),
                account_id=account.id,
                new_email=normalise_email(email),
                token_hash=token_hash(code),
                created_at=now,
                expires_at=now + timedelta(minutes=self.settings.email_change_ttl_minutes),
            )
        )
        await self.mail.email_change(account, change.id, change.new_email, code, change.expires_at)
        await self.audit.record(
            AuditAction.EMAIL_CHANGE_REQUESTED,
            actor=actor,
            tenant=account.tenant_ags,
            subject=account.id,
        )

    async def confirm_email_change(self, code: str, actor: Actor) -> Account:
        """The address changes to the one the code was mailed to, confirmed; a notice goes to
        the old one, and the password codes mailed there end. UnknownEmailChangeCode,
        EmailChangeCodeSpent (used or expired; the caller commits its audit), EmailTaken."""
        now = self.clock.now()
        change = await self.email_changes.by_hash(token_hash(code))
        if change is None:
            raise UnknownEmailChangeCode()
        account = await self.accounts.get(change.account_id)
        if account is None or account.disabled_at is not None:
            raise UnknownEmailChangeCode()
        if change.used_at is not None or change.expires_at <= now:
            await self.audit.record(
                AuditAction.EMAIL_CHANGE,
                outcome="failure",
                actor=actor,
                tenant=account.tenant_ags,
                subject=account.id,
                details={"reason": "used" if change.used_at is not None else "expired"},
            )
            raise EmailChangeCodeSpent()
        if not await self.email_changes.claim(change.id, now):
            raise EmailChangeCodeSpent()  # used at the same time: that request changes it
        old = account.email
        if not await self.accounts.change_email_if_free(account, change.new_email):
            # Raised, so the claim is rolled back with it: nothing changed.
            raise EmailTaken("Another account of the municipality has this address.")
        account.email_verified_at = now
        account.email_verification_hash = None
        await self.accounts.flush()
        await self.email_changes.end_all_of(account.id, now)
        await self.password_codes.end_all_of(account.id, now)
        if old != account.email:
            await self.mail.email_changed(account, change.id, old, now)
        await self.audit.record(
            AuditAction.EMAIL_CHANGE, actor=actor, tenant=account.tenant_ags, subject=account.id
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

    async def me_open(self, principal: Principal) -> Account:
        """The caller's own account while it is not disabled (AccountNotFound otherwise)."""
        account = await self.me(principal)
        if account.disabled_at is not None:
            raise AccountNotFound()
        return account
