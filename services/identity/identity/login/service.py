"""Password login with brute-force protection.

After ``lockout_threshold`` failures an account is locked (and after ``lockout_ip_threshold``
a client IP), first for ``lockout_base_s``, each further lock twice as long up to
``lockout_max_s``. A locked account, an unknown account and a wrong password get the same answer
after the same work (one argon2 verification), so the answer tells an attacker nothing.

Where the municipality requires a confirmed e-mail address (``email_verification_required``),
the right password of an account whose address is not confirmed yet is answered with
:class:`EmailNotVerified` instead of tokens: only after the password was checked, so only
someone who knows it learns that much. A sign-in through a trusted identity provider
(``external``) is not a password login: the provider vouches for the person.

The code step of staff with a second factor (``identity.mfa``) is throttled by the same rules,
counted per account apart from the password and per client IP together with it
(:meth:`LoginService.second_factor_failed`).
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from identity.accounts.errors import PasswordMismatch
from identity.accounts.models import Account
from identity.accounts.passwords import Passwords
from identity.accounts.repository import AccountRepository
from identity.accounts.service import normalise_email
from identity.audit.service import Actor, AuditAction, AuditLog
from identity.clock import Clock
from identity.login.errors import EmailNotVerified
from identity.login.repository import ThrottleRepository
from identity.settings import IdentitySettings
from identity.tokens.errors import InvalidCredentials
from servicekit.mail import InvalidMail, refuse_control_characters


def _ip_key(ip: str) -> str:
    return "ip:" + hashlib.sha256(ip.encode()).hexdigest()[:40]


def _account_key(account: Account) -> str:
    return f"account:{account.id}"


def _second_factor_key(account: Account) -> str:
    # Apart from the password's count, which the right password resets: knowing the password
    # must not buy fresh attempts at the code.
    return f"mfa:{account.id}"


class LoginService:
    def __init__(
        self,
        accounts: AccountRepository,
        throttles: ThrottleRepository,
        passwords: Passwords,
        audit: AuditLog,
        clock: Clock,
        settings: IdentitySettings,
    ) -> None:
        self.accounts = accounts
        self.throttles = throttles
        self.passwords = passwords
        self.audit = audit
        self.clock = clock
        self.settings = settings

    async def _locked(self, key: str) -> bool:
        throttle = await self.throttles.get(key)
        return (
            throttle is not None
            and throttle.locked_until is not None
            and throttle.locked_until > self.clock.now()
        )

    def _second_factor_limits(self, account: Account, actor: Actor) -> list[tuple[str, int]]:
        limits = [(_second_factor_key(account), self.settings.lockout_threshold)]
        if actor.client_ip:
            limits.append((_ip_key(actor.client_ip), self.settings.lockout_ip_threshold))
        return limits

    async def second_factor_locked(self, account: Account, actor: Actor) -> bool:
        """Whether the account's code step (or the client address) is locked."""
        return any(
            [await self._locked(key) for key, _ in self._second_factor_limits(account, actor)]
        )

    async def second_factor_failed(self, account: Account, actor: Actor) -> None:
        """Count a wrong code like a wrong password: enough of them lock the code step."""
        limits = self._second_factor_limits(account, actor)
        await self._count_failure(limits, account.tenant_ags, account, actor)

    async def second_factor_passed(self, account: Account) -> None:
        await self.throttles.reset(_second_factor_key(account), self.clock.now())

    async def reauthenticate(
        self, account: Account, password: str, actor: Actor, action: AuditAction
    ) -> None:
        """The account holder confirms ``action`` (a password or address change) with the
        current password; a wrong one counts like a failed login, and a locked account or
        client address is refused even with the right one: :class:`PasswordMismatch`, which
        the caller commits (the count and its audit)."""
        limits = [(_account_key(account), self.settings.lockout_threshold)]
        if actor.client_ip:
            limits.append((_ip_key(actor.client_ip), self.settings.lockout_ip_threshold))
        locked = [key for key, _ in limits if await self._locked(key)]
        matches = await self.passwords.verify(account.password_hash, password)
        if matches and not locked:
            await self.throttles.reset(_account_key(account), self.clock.now())
            return
        if not locked:
            await self._count_failure(limits, account.tenant_ags, account, actor)
        await self.audit.record(
            action,
            outcome="failure",
            actor=actor,
            tenant=account.tenant_ags,
            subject=account.id,
            details={"reason": "locked" if locked else "wrong_password"},
        )
        raise PasswordMismatch("Confirm this with the account's current password.")

    async def authenticate(self, tenant: str, email: str, password: str, actor: Actor) -> Account:
        """The account, or :class:`InvalidCredentials` (:class:`EmailNotVerified` for the
        right password of an unconfirmed address where one is required); the caller commits
        either way."""
        try:
            refuse_control_characters(email)
        except InvalidMail:
            # No account has such an address (the kit refuses them everywhere), and a NUL
            # would not even reach PostgreSQL: answered like an unknown account.
            account = None
        else:
            account = await self.accounts.by_email(tenant, normalise_email(email))
        limits: list[tuple[str, int]] = []
        if account is not None:
            limits.append((_account_key(account), self.settings.lockout_threshold))
        if actor.client_ip:
            limits.append((_ip_key(actor.client_ip), self.settings.lockout_ip_threshold))
        locked = [key for key, _ in limits if await self._locked(key)]
        # Always verify, even when the answer is already known: same work, same timing class.
        matches = await self.passwords.verify(
            account.password_hash if account is not None else None, password
        )
        if account is not None and matches and not locked and account.disabled_at is None:
            await self.throttles.reset(_account_key(account), self.clock.now())
            if self.passwords.needs_rehash(account.password_hash):
                account.password_hash = await self.passwords.hash(password)
            if account.email_verified_at is None and (
                self.settings.email_verification_required_for(tenant)
            ):
                await self.audit.record(
                    AuditAction.LOGIN,
                    outcome="failure",
                    actor=actor,
                    tenant=tenant,
                    subject=account.id,
                    details={"reason": "email_not_verified"},
                )
                raise EmailNotVerified(
                    "This municipality requires a confirmed e-mail address: follow the code "
                    "mailed at registration, or reset the password to be mailed a new one."
                )
            await self.audit.record(
                AuditAction.LOGIN, actor=actor, tenant=tenant, subject=account.id
            )
            return account

        if account is None:
            reason = "unknown_account"
        elif locked:
            reason = "locked"
        elif account.disabled_at is not None:
            reason = "disabled"
        else:
            reason = "wrong_password"
        if not locked:
            await self._count_failure(limits, tenant, account, actor)
        await self.audit.record(
            AuditAction.LOGIN,
            outcome="failure",
            actor=actor,
            tenant=tenant,
            subject=account.id if account else None,
            details={"reason": reason},
        )
        raise InvalidCredentials()

    async def _count_failure(
        self,
        limits: list[tuple[str, int]],
        tenant: str,
        account: Account | None,
        actor: Actor,
    ) -> None:
        now = self.clock.now()
        for key, threshold in limits:
            failures, lockouts = await self.throttles.record_failure(key, now)
            if failures < threshold:
                continue
            seconds = min(
                self.settings.lockout_base_s * 2 ** min(lockouts, 20), self.settings.lockout_max_s
            )
            await self.throttles.lock(key, now + timedelta(seconds=seconds), now)
            await self.audit.record(
                AuditAction.LOCKOUT,
                actor=actor,
                tenant=tenant,
                subject=account.id if account and not key.startswith("ip:") else None,
                details={"scope": key.split(":", 1)[0], "seconds": seconds},
            )
