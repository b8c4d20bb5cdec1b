"""Test support for identity: settings fit for tests, a clock to advance, plain factories."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from identity.accounts.models import Account
from identity.accounts.passwords import Passwords
from identity.clients.models import OAuthClient
from identity.clients.service import secret_hash
from identity.keys.cipher import KeyCipher
from identity.mfa import authenticator
from identity.mfa.models import MfaEnrolment, MfaRecoveryCode
from identity.settings import IdentitySettings, key_encryption_key_bytes
from identity.tenants.models import Tenant
from servicekit.db import utcnow
from servicekit.settings import Environment

TEST_KEY_ENCRYPTION_KEY = "dGVzdC1vbmx5LWtleS1lbmNyeXB0aW9uLWtleS0zMiE"
DEFAULT_PASSWORD = "correct horse battery staple"
STRICT_TENANT = "06999003"
"""A municipality whose password logins need a confirmed e-mail address (in every test app)."""
MFA_TENANT = "06999004"
"""A municipality whose staff must log in with a second factor (in every test app)."""


def settings_for_tests(database_url: str, **overrides: Any) -> IdentitySettings:
    """Cheap argon2 and ES256 keys: the suite stays fast; production values are the defaults."""
    values: dict[str, Any] = {
        "environment": Environment.TEST,
        "database_url": database_url,
        "signing_algorithm": "ES256",
        "key_encryption_key": TEST_KEY_ENCRYPTION_KEY,
        "argon2_time_cost": 1,
        "argon2_memory_kib": 1024,
        "argon2_parallelism": 1,
        "lockout_threshold": 3,
        "lockout_base_s": 60,
        "mail_from_address": "konto@musterstadt.example",
        "tenant_email_verification_required": {STRICT_TENANT: True},
        "tenant_mfa_required": {MFA_TENANT: True},
    }
    values.update(overrides)
    return IdentitySettings(**values)


class FakeClock:
    """Starts at the real now; tests move it forward instead of sleeping."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or utcnow()

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


_PASSWORDS: dict[str, Passwords] = {}


def _passwords() -> Passwords:
    if "test" not in _PASSWORDS:
        _PASSWORDS["test"] = Passwords(settings_for_tests("sqlite+aiosqlite://"))
    return _PASSWORDS["test"]


async def create_tenant(
    session: AsyncSession, ags: str = "06999001", name: str = "Musterstadt"
) -> Tenant:
    tenant = Tenant(ags=ags, name=name)
    session.add(tenant)
    await session.flush()
    return tenant


async def create_account(
    session: AsyncSession,
    *,
    tenant: str = "06999001",
    email: str = "erika@example.org",
    password: str = DEFAULT_PASSWORD,
    roles: tuple[str, ...] = ("citizen",),
    account_id: str | None = None,
    email_verified: bool = False,
) -> Account:
    account = Account(
        id=account_id or str(uuid.uuid4()),
        tenant_ags=tenant,
        email=email,
        password_hash=await _passwords().hash(password),
        roles=" ".join(sorted(roles)),
        created_at=utcnow(),
        email_verified_at=utcnow() if email_verified else None,
    )
    session.add(account)
    await session.flush()
    return account


async def create_partner_client(
    session: AsyncSession,
    *,
    tenant: str = "06999001",
    client_id: str = "partner-nachbarstadt",
    secret: str = "s3cret-of-the-partner-client-0123456789",
    scopes: tuple[str, ...] = ("booking:search", "cases:handover"),
) -> OAuthClient:
    client = OAuthClient(
        client_id=client_id,
        tenant_ags=tenant,
        name="Nachbarstadt",
        secret_hash=secret_hash(secret),
        scopes=" ".join(sorted(scopes)),
        created_at=utcnow(),
    )
    session.add(client)
    await session.flush()
    return client


async def create_second_factor(
    session: AsyncSession, account: Account, *, recovery_codes: tuple[str, ...] = ()
) -> str:
    """A confirmed authenticator of ``account`` (sealed as the app seals it); its secret."""
    secret = authenticator.new_secret()
    cipher = KeyCipher(key_encryption_key_bytes(SecretStr(TEST_KEY_ENCRYPTION_KEY)))
    now = utcnow()
    session.add(
        MfaEnrolment(
            account_id=account.id,
            secret_ciphertext=cipher.encrypt(
                {"totp": secret}, kid=authenticator.sealed_as(account.id)
            ),
            created_at=now,
            confirmed_at=now,
        )
    )
    for code in recovery_codes:
        session.add(
            MfaRecoveryCode(
                id=str(uuid.uuid4()),
                account_id=account.id,
                code_hash=await _passwords().hash(authenticator.normalise(code)),
                created_at=now,
            )
        )
    await session.flush()
    return secret


async def create_frontend_client(
    session: AsyncSession,
    *,
    tenant: str = "06999001",
    client_id: str = "buergerportal",
    redirect_uris: tuple[str, ...] = ("https://portal.musterstadt.example/callback",),
    first_party: bool = True,
    secret: str | None = None,
    scopes: tuple[str, ...] = (),
    name: str = "Bürgerportal",
) -> OAuthClient:
    """A frontend's client: public (PKCE alone) unless a ``secret`` makes it confidential."""
    client = OAuthClient(
        client_id=client_id,
        tenant_ags=tenant,
        name=name,
        secret_hash=secret_hash(secret or uuid.uuid4().hex),
        scopes=" ".join(sorted(scopes)),
        redirect_uris=" ".join(redirect_uris),
        first_party=first_party,
        public=secret is None,
        created_at=utcnow(),
    )
    session.add(client)
    await session.flush()
    return client
