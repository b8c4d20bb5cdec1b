"""Demo data for ``make run``: idempotent, so a second run neither fails nor duplicates.

The credentials are public demo values, printed for the person trying Rathaus out; seeding is
refused in production.
"""

from __future__ import annotations

import logging
from typing import Any

import pyotp
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from identity.accounts.dependencies import account_service
from identity.accounts.service import AccountService
from identity.audit.dependencies import audit_log
from identity.audit.service import Actor, AuditLog
from identity.clients.dependencies import client_service
from identity.keys.dependencies import key_service
from identity.login.dependencies import login_service
from identity.mail.dependencies import account_mail
from identity.mfa.dependencies import second_factor
from identity.settings import IdentitySettings
from identity.tenants.dependencies import tenant_service
from servicekit.settings import Environment

DEMO_TENANT_AGS = "06999001"
DEMO_TENANT_NAME = "Musterstadt (Demo)"
DEMO_ACCOUNTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("plattform@musterstadt.example", "demo-plattform-2026", ("platform_admin",)),
    ("admin@musterstadt.example", "demo-admin-2026!", ("admin",)),
    ("sachbearbeitung@musterstadt.example", "demo-clerk-2026!", ("clerk",)),
    ("erika.mustermann@example.org", "demo-citizen-2026", ("citizen",)),
)
DEMO_MFA_ACCOUNT = ("zweiter.faktor@musterstadt.example", "demo-mfa-clerk-2026!", ("clerk",))
DEMO_MFA_SECRET = "DEMOMFAMUSTERSTADTDEMOMFAMUSTERS"
"""The demo clerk's TOTP secret (base32): public like every demo credential."""
DEMO_CLIENT_ID = "demo-partner-nachbarstadt"
DEMO_CLIENT_SECRET = "demo-partner-secret-2026-not-for-production"
DEMO_CLIENT_SCOPES = ("booking:search", "cases:handover")
DEMO_FRONTEND_CLIENT_ID = "demo-frontend"
DEMO_FRONTEND_REDIRECT_URIS = (
    "http://localhost:8000/demo/callback",
    "http://127.0.0.1:8000/demo/callback",
)
"""The municipality's own frontend (first-party, public: PKCE, no secret), behind the
gateway of ``make run``; nothing serves the callback there, the code shows in the address."""

logger = logging.getLogger("identity.seed")


class SeedRefused(RuntimeError):
    """Demo credentials are public: they never go into a production database."""


async def seed_demo(app: FastAPI) -> None:
    state = app.state
    settings: IdentitySettings = state.settings
    if settings.environment is Environment.PRODUCTION:
        raise SeedRefused("the demo seed is refused in production")
    lines: list[str] = []
    async with state.database.sessionmaker() as session, session.begin():
        clock = state.clock
        audit = await audit_log(session, clock)
        tenants = await tenant_service(session)
        tenant = await tenants.ensure(DEMO_TENANT_AGS, DEMO_TENANT_NAME)
        mail = await account_mail(session, state.mailbox, tenants, settings)
        accounts = await account_service(
            session, tenants, state.passwords, audit, clock, mail, state.outbox, settings
        )
        lines.append(f"demo municipality: {tenant.name} (AGS {tenant.ags})")
        for email, password, roles in DEMO_ACCOUNTS:
            _, created = await accounts.ensure_account(tenant.ags, email, password, roles)
            note = "" if created else " (existed; password unchanged)"
            lines.append(f"  {'/'.join(roles):<15} {email}  password: {password}{note}")
        lines.extend(await _demo_second_factor(session, state, accounts, audit))
        clients = await client_service(session, tenants, audit, clock)
        if await clients.get(DEMO_CLIENT_ID) is None:
            await clients.create(
                tenant.ags,
                "Nachbarstadt (Demo-Partner)",
                DEMO_CLIENT_SCOPES,
                Actor("seed"),
                client_id=DEMO_CLIENT_ID,
                secret=DEMO_CLIENT_SECRET,
            )
        lines.append(
            f"  partner client  {DEMO_CLIENT_ID}  secret: {DEMO_CLIENT_SECRET}"
            f"  scopes: {' '.join(DEMO_CLIENT_SCOPES)}"
        )
        if await clients.get(DEMO_FRONTEND_CLIENT_ID) is None:
            await clients.create(
                tenant.ags,
                "Musterstadt Bürgerportal (Demo)",
                (),
                Actor("seed"),
                client_id=DEMO_FRONTEND_CLIENT_ID,
                redirect_uris=DEMO_FRONTEND_REDIRECT_URIS,
                first_party=True,
                public=True,
            )
        lines.append(
            f"  frontend client {DEMO_FRONTEND_CLIENT_ID}  (public, first-party; PKCE)"
            f"  redirect: {' '.join(DEMO_FRONTEND_REDIRECT_URIS)}"
        )
        keys = await key_service(session, settings, state.key_cipher, audit, clock)
        await keys.signing_key()
    lines.append("log in: POST /identity/v1/auth/login {tenant, email, password}")
    lines.append(
        "  with a second factor (202 and an mfa_token): POST /identity/v1/auth/mfa/verify"
        " {mfa_token, code}"
    )
    lines.append(
        "sign in from a frontend: GET /identity/v1/oauth2/authorize?response_type=code"
        f"&client_id={DEMO_FRONTEND_CLIENT_ID}&redirect_uri=...&state=...&code_challenge=..."
        "&code_challenge_method=S256 (see the README)"
    )
    print("\n".join(lines))  # noqa: T201 - seed output for the person at the terminal


async def _demo_second_factor(
    session: AsyncSession, state: Any, accounts: AccountService, audit: AuditLog
) -> list[str]:
    """A clerk with an authenticator already set up, so that the second step can be tried:
    staff need none in development, every municipality requires one in production."""
    email, password, roles = DEMO_MFA_ACCOUNT
    account, _ = await accounts.ensure_account(DEMO_TENANT_AGS, email, password, roles)
    login = await login_service(session, state.passwords, audit, state.clock, state.settings)
    factor = await second_factor(
        session,
        accounts,
        login,
        state.passwords,
        state.key_cipher,
        audit,
        state.clock,
        state.settings,
    )
    if not (await factor.status(account)).enrolled:
        await factor.begin_enrolment(account, secret=DEMO_MFA_SECRET)
        first_code = pyotp.TOTP(DEMO_MFA_SECRET).at(state.clock.now())
        await factor.confirm_enrolment(account, first_code, Actor("seed"))
    return [
        f"  {'/'.join(roles):<15} {email}  password: {password}  TOTP secret: {DEMO_MFA_SECRET}",
        '    its code now: python -c "import pyotp; print(pyotp.TOTP('
        f"'{DEMO_MFA_SECRET}').now())\"",
    ]
