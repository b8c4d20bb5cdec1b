"""Staff's second factor: enrolment of an authenticator app (TOTP), one-time recovery codes,
and the code step of a login.

The right password of an account with a second factor is answered with a *challenge*, not with
tokens: an opaque token (kept as its SHA-256) that a valid code turns into tokens within
``mfa_challenge_ttl_s``. Staff who must have a second factor and have none get a challenge that
only enrols one (``ChallengePurpose.ENROL``); its first valid code completes the login.

- A code is accepted once: the step it belongs to is stored, and that step or an older one is
  refused afterwards (RFC 6238 section 5.2). A recovery code is used up by its first use.
- Wrong, replayed and expired codes count like wrong passwords (``LoginService``'s throttle:
  per account for the code step, and per client address); a locked code step refuses even the
  right code, with the same answer.
- The secret is sealed with the key cipher of the signing keys (AES-256-GCM), bound to its
  account; recovery codes are stored as argon2id hashes and shown once.
- An administrator's reset removes the second factor and ends the account's sessions; the
  person enrols again at the next login (their municipality requires it) or when they like.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn

from identity.accounts.models import Account
from identity.accounts.passwords import Passwords
from identity.accounts.repository import AccountRepository
from identity.accounts.service import AccountService, token_hash
from identity.audit.service import Actor, AuditAction, AuditLog
from identity.clock import Clock
from identity.keys.cipher import KeyCipher
from identity.login.service import LoginService
from identity.mfa import authenticator
from identity.mfa.authenticator import Provisioning
from identity.mfa.errors import (
    InvalidMfaChallenge,
    InvalidMfaCode,
    MfaAlreadyEnrolled,
    MfaEnrolmentRequired,
    MfaNotEnrolling,
    MfaNotForRole,
    NoPendingEnrolment,
)
from identity.mfa.models import ChallengePurpose, MfaChallenge, MfaEnrolment, MfaRecoveryCode
from identity.mfa.policy import AMR_PASSWORD_AND_OTP, may_enrol, must_have_second_factor
from identity.mfa.repository import (
    ChallengeRepository,
    EnrolmentRepository,
    RecoveryCodeRepository,
)
from identity.settings import IdentitySettings
from servicekit.auth import Principal


@dataclass(frozen=True)
class Challenge:
    """What the password step answers instead of tokens."""

    token: str
    expires_in: int
    enrolment_required: bool


@dataclass(frozen=True)
class Completed:
    """A login whose second step passed: tokens may be issued with ``amr``."""

    account: Account
    amr: tuple[str, ...]
    recovery_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Status:
    enrolled: bool
    confirmed_at: datetime | None
    required: bool
    recovery_codes_left: int


class SecondFactor:
    def __init__(
        self,
        enrolments: EnrolmentRepository,
        recovery_codes: RecoveryCodeRepository,
        challenges: ChallengeRepository,
        accounts: AccountRepository,
        account_service: AccountService,
        login: LoginService,
        passwords: Passwords,
        cipher: KeyCipher,
        audit: AuditLog,
        clock: Clock,
        settings: IdentitySettings,
    ) -> None:
        self.enrolments = enrolments
        self.recovery_codes = recovery_codes
        self.challenges = challenges
        self.accounts = accounts
        self.account_service = account_service
        self.login = login
        self.passwords = passwords
        self.cipher = cipher
        self.audit = audit
        self.clock = clock
        self.settings = settings

    # The password step ------------------------------------------------------------------

    async def after_password(self, account: Account) -> Challenge | None:
        """The challenge for the right password of ``account``, or None when the password
        completes the login (no second factor, none required)."""
        enrolment = await self.enrolments.get(account.id)
        if enrolment is not None and enrolment.confirmed_at is not None:
            purpose = ChallengePurpose.VERIFY
        elif must_have_second_factor(account, self.settings):
            purpose = ChallengePurpose.ENROL
        else:
            return None
        now = self.clock.now()
        await self.challenges.drop_expired(account.id, now)
        token = secrets.token_urlsafe(32)
        ttl = self.settings.mfa_challenge_ttl_s
        await self.challenges.add(
            MfaChallenge(
                id=str(uuid.uuid4()),
                token_hash=token_hash(token),
                account_id=account.id,
                purpose=purpose.value,
                created_at=now,
                expires_at=now + timedelta(seconds=ttl),
            )
        )
        return Challenge(token, ttl, purpose is ChallengePurpose.ENROL)

    async def _open(self, token: str, purpose: ChallengePurpose) -> tuple[MfaChallenge, Account]:
        challenge = await self.challenges.by_hash(token_hash(token))
        if (
            challenge is None
            or challenge.used_at is not None
            or challenge.expires_at <= self.clock.now()
        ):
            raise InvalidMfaChallenge("Log in with the password again.")
        account = await self.accounts.get(challenge.account_id)
        if account is None or account.disabled_at is not None:
            raise InvalidMfaChallenge("Log in with the password again.")
        if challenge.purpose != purpose.value:
            if purpose is ChallengePurpose.VERIFY:
                raise MfaEnrolmentRequired(
                    "Enrol an authenticator app with this login step first "
                    "(POST /identity/v1/auth/mfa/enrolment)."
                )
            raise MfaNotEnrolling("Complete the login with a code of the authenticator app.")
        return challenge, account

    async def _complete(self, challenge: MfaChallenge) -> None:
        if not await self.challenges.claim(challenge.id, self.clock.now()):
            raise InvalidMfaChallenge("This login step was completed already.")

    # The code step ----------------------------------------------------------------------

    async def verify(self, token: str, code: str, actor: Actor) -> Completed:
        """Complete a login with a TOTP code or a recovery code: InvalidMfaCode (the caller
        commits the count of it), InvalidMfaChallenge, MfaEnrolmentRequired."""
        challenge, account = await self._open(token, ChallengePurpose.VERIFY)
        enrolment = await self.enrolments.get(account.id)
        if enrolment is None or enrolment.confirmed_at is None:
            raise InvalidMfaChallenge("The second factor was reset: log in again.")
        if await self.login.second_factor_locked(account, actor):
            await self._refused(account, actor, AuditAction.LOGIN, "locked", count=False)
        factor = await self._accepted(account, enrolment, code)
        if factor is None or factor.startswith("replayed"):
            reason = factor or "wrong_code"
            await self._refused(account, actor, AuditAction.LOGIN, reason, count=True)
        await self._complete(challenge)
        await self.login.second_factor_passed(account)
        await self.audit.record(
            AuditAction.LOGIN,
            actor=actor,
            tenant=account.tenant_ags,
            subject=account.id,
            details={"factor": str(factor)},
        )
        return Completed(account, AMR_PASSWORD_AND_OTP)

    async def _accepted(self, account: Account, enrolment: MfaEnrolment, code: str) -> str | None:
        """``otp`` or ``recovery_code`` for an accepted code, ``replayed_*`` for one that was
        good once, None for a wrong one."""
        typed = authenticator.normalise(code)
        if authenticator.looks_like_totp(typed):
            step = authenticator.matching_step(self._secret(enrolment), typed, self.clock.now())
            if step is None:
                return None
            if not await self.enrolments.claim_step(account.id, step):
                return "replayed_otp"
            return "otp"
        if not authenticator.looks_like_recovery_code(typed):
            return None
        for stored in await self.recovery_codes.unused_of(account.id):
            if await self.passwords.verify(stored.code_hash, typed):
                if not await self.recovery_codes.claim(stored.id, self.clock.now()):
                    return "replayed_recovery_code"
                return "recovery_code"
        return None

    async def _refused(
        self, account: Account, actor: Actor, action: AuditAction, reason: str, *, count: bool
    ) -> NoReturn:
        if count:
            await self.login.second_factor_failed(account, actor)
        await self.audit.record(
            action,
            outcome="failure",
            actor=actor,
            tenant=account.tenant_ags,
            subject=account.id,
            details={"reason": reason},
        )
        raise InvalidMfaCode()

    def _secret(self, enrolment: MfaEnrolment) -> str:
        sealed = self.cipher.decrypt(
            enrolment.secret_ciphertext, kid=authenticator.sealed_as(enrolment.account_id)
        )
        return str(sealed["totp"])

    # Enrolment --------------------------------------------------------------------------

    async def begin_enrolment(self, account: Account, *, secret: str | None = None) -> Provisioning:
        """A new secret for the account's authenticator app (``secret``: the demo seed's
        public one); it works once a first code confirmed it (:meth:`confirm_enrolment`).
        Starting again replaces a pending one."""
        if not may_enrol(account):
            raise MfaNotForRole()
        enrolment = await self.enrolments.get(account.id)
        if enrolment is not None and enrolment.confirmed_at is not None:
            raise MfaAlreadyEnrolled(
                "An administrator of the municipality resets it when the device is lost."
            )
        secret = secret or authenticator.new_secret()
        sealed = self.cipher.encrypt({"totp": secret}, kid=authenticator.sealed_as(account.id))
        now = self.clock.now()
        if enrolment is None:
            await self.enrolments.add(
                MfaEnrolment(account_id=account.id, secret_ciphertext=sealed, created_at=now)
            )
        else:
            enrolment.secret_ciphertext = sealed
            enrolment.created_at = now
            enrolment.last_used_step = None
            await self.enrolments.flush()
        return authenticator.provisioning(
            secret,
            account_name=account.email,
            issuer=f"{self.settings.mfa_issuer} {account.tenant_ags}",
        )

    async def confirm_enrolment(self, account: Account, code: str, actor: Actor) -> list[str]:
        """Confirm the pending enrolment with a first code: the recovery codes, shown this once.
        InvalidMfaCode (counted; the caller commits it), NoPendingEnrolment."""
        enrolment = await self.enrolments.get(account.id)
        if enrolment is None or enrolment.confirmed_at is not None:
            raise NoPendingEnrolment("Start an enrolment first.")
        if await self.login.second_factor_locked(account, actor):
            await self._refused(account, actor, AuditAction.MFA_ENROLMENT, "locked", count=False)
        now = self.clock.now()
        step = authenticator.matching_step(
            self._secret(enrolment), authenticator.normalise(code), now
        )
        if step is None:
            await self._refused(account, actor, AuditAction.MFA_ENROLMENT, "wrong_code", count=True)
        if not await self.enrolments.confirm(account.id, step, now):
            raise NoPendingEnrolment("The enrolment was confirmed already.")
        codes = authenticator.new_recovery_codes()
        await self.recovery_codes.replace(
            account.id,
            [
                MfaRecoveryCode(
                    id=str(uuid.uuid4()),
                    account_id=account.id,
                    code_hash=await self.passwords.hash(authenticator.normalise(code)),
                    created_at=now,
                )
                for code in codes
            ],
        )
        await self.login.second_factor_passed(account)
        await self.audit.record(
            AuditAction.MFA_ENROLMENT, actor=actor, tenant=account.tenant_ags, subject=account.id
        )
        return codes

    async def begin_enrolment_at_login(self, token: str) -> Provisioning:
        """Enrol with the challenge of a login that requires a second factor."""
        _, account = await self._open(token, ChallengePurpose.ENROL)
        return await self.begin_enrolment(account)

    async def confirm_enrolment_at_login(self, token: str, code: str, actor: Actor) -> Completed:
        """The first code of the enrolment completes the login it was begun in."""
        challenge, account = await self._open(token, ChallengePurpose.ENROL)
        codes = await self.confirm_enrolment(account, code, actor)
        await self._complete(challenge)
        return Completed(account, AMR_PASSWORD_AND_OTP, tuple(codes))

    # The person's own view, and the administrator's reset -------------------------------

    async def account_of(self, principal: Principal) -> Account:
        return await self.account_service.me(principal)

    async def status(self, account: Account) -> Status:
        enrolment = await self.enrolments.get(account.id)
        confirmed_at = enrolment.confirmed_at if enrolment is not None else None
        return Status(
            enrolled=confirmed_at is not None,
            confirmed_at=confirmed_at,
            required=must_have_second_factor(account, self.settings),
            recovery_codes_left=(
                await self.recovery_codes.count_unused(account.id) if confirmed_at else 0
            ),
        )

    async def reset(self, tenant_ags: str, account_id: str, by: Principal, actor: Actor) -> None:
        """An administrator of the municipality removes an account's second factor (lost
        device): its sessions end, and it enrols again. Another municipality's account is
        AccountNotFound, an unmanaged municipality TenantNotFound."""
        account = await self.account_service.get_in_tenant(tenant_ags, account_id, by)
        had = await self.enrolments.forget(account.id)
        await self.accounts.revoke_refresh_tokens(account.id, self.clock.now())
        await self.audit.record(
            AuditAction.MFA_RESET,
            actor=actor,
            tenant=tenant_ags,
            subject=account.id,
            details={"had_second_factor": "yes" if had else "no"},
        )
