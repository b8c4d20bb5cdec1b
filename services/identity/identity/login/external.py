"""Sign-in through a trusted external OpenID Connect issuer, e.g. a Keycloak that brokers
BundID, whose ``acr`` says the level of assurance (docs/architecture.md#security-model).

The frontend does the OpenID Connect flow with the provider and hands us its ID token. We check
it like our own tokens (``servicekit.auth.jose_safe.verify_id_token``: the provider's keys by
``kid``, the key's one algorithm, issuer, audience, lifetime), map its ``acr`` to an eIDAS level
(an unknown one is refused), and find the person's account in the municipality by the
provider's ``sub``. The first time, a citizen account is made for them; the account has no
usable password. Our tokens then carry the level as ``acr``, through every refresh.

An address the provider says is verified joins an existing citizen account with that address
only when that account confirmed the address itself (``email_verified_at``): anyone can
register any address with a password of their choosing, and joining such an account would hand
the person's BundID identity to whoever knows that password. An unconfirmed account with the
address gives it up instead (docs/architecture.md#security-model): it is closed (disabled, its
sessions and pending code ended, its address replaced by one under ``released.invalid``), the
release is audited, and the person gets a fresh account with the address.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Mapping
from typing import Any

from identity.accounts.models import Account
from identity.accounts.passwords import Passwords
from identity.accounts.repository import AccountRepository
from identity.accounts.service import RELEASED_EMAIL_DOMAIN
from identity.audit.service import Actor, AuditAction, AuditLog
from identity.clock import Clock
from identity.login.models import ExternalIdentity
from identity.login.repository import ExternalIdentityRepository
from identity.settings import ExternalIssuer, TrustLevel
from identity.tenants.errors import TenantNotFound
from identity.tenants.service import TenantService
from servicekit.auth import RemoteJwks
from servicekit.auth.jose_safe import TokenRejected, unverified_key_id, verify_id_token
from servicekit.problems import Unauthorized

logger = logging.getLogger("identity.login")


class InvalidExternalToken(Unauthorized):
    type_slug = "invalid-external-token"
    title = "The identity provider's token is not accepted"


class ExternalProviders:
    """The trusted providers of the settings, each with its key set (fetched and cached)."""

    def __init__(self, issuers: list[ExternalIssuer]) -> None:
        self.issuers = {issuer.name: issuer for issuer in issuers}
        self.keys = {issuer.name: RemoteJwks(issuer.jwks_url) for issuer in issuers}

    async def verified(self, name: str, id_token: str) -> tuple[Mapping[str, Any], TrustLevel]:
        """The token's claims and its level; InvalidExternalToken for anything else."""
        issuer = self.issuers.get(name)
        if issuer is None:
            raise InvalidExternalToken("No such identity provider.")
        try:
            kid = unverified_key_id(id_token)
            key = await self.keys[name].get(kid)
            if key is None:
                raise TokenRejected("unknown key id")
            claims = verify_id_token(
                id_token, {kid: key}, issuer=issuer.issuer, audience=issuer.audience
            )
        except TokenRejected as exc:
            logger.info("external token rejected: %s", exc, extra={"provider": name})
            raise InvalidExternalToken() from None
        level = issuer.acr_levels.get(str(claims.get("acr")))
        if level is None or not isinstance(claims.get("sub"), str):
            raise InvalidExternalToken(
                "The identity provider's level of assurance is not accepted."
            )
        return claims, level

    async def aclose(self) -> None:
        for source in self.keys.values():
            await source.aclose()


class ExternalSignIn:
    def __init__(
        self,
        accounts: AccountRepository,
        identities: ExternalIdentityRepository,
        providers: ExternalProviders,
        tenants: TenantService,
        passwords: Passwords,
        audit: AuditLog,
        clock: Clock,
    ) -> None:
        self.accounts = accounts
        self.identities = identities
        self.providers = providers
        self.tenants = tenants
        self.passwords = passwords
        self.audit = audit
        self.clock = clock

    async def sign_in(
        self, tenant_ags: str, provider: str, id_token: str, actor: Actor
    ) -> tuple[Account, TrustLevel]:
        claims, level = await self.providers.verified(provider, id_token)
        try:
            await self.tenants.get(tenant_ags)
        except TenantNotFound:
            raise InvalidExternalToken("No such municipality.") from None
        subject = str(claims["sub"])
        link = await self.identities.of(provider, subject, tenant_ags)
        account = await self.accounts.get(link.account_id) if link else None
        if account is None:
            account = await self._first_sign_in(tenant_ags, provider, subject, claims)
        if account.disabled_at is not None:
            raise InvalidExternalToken("The account is closed.")
        await self.audit.record(
            AuditAction.LOGIN,
            actor=Actor(account.id, actor.client_ip),
            tenant=tenant_ags,
            subject=account.id,
            details={"provider": provider, "acr": level},
        )
        return account, level

    async def _first_sign_in(
        self, tenant_ags: str, provider: str, subject: str, claims: Mapping[str, Any]
    ) -> Account:
        email = claims.get("email") if claims.get("email_verified") is True else None
        account = None
        if isinstance(email, str) and email:
            account = await self.accounts.by_email(tenant_ags, email.strip().lower())
            if account is not None and account.role_set != {"citizen"}:
                # Staff sign in with their own credentials, never through a citizen's provider.
                raise InvalidExternalToken("This address belongs to a staff account.")
            if account is not None and account.email_verified_at is None:
                # Nobody proved this account's address: never join it (see the module).
                await self._release_address(account, provider)
                account = None
        if account is None:
            account_id = str(uuid.uuid4())
            account = Account(
                id=account_id,
                tenant_ags=tenant_ags,
                email=(email or f"{account_id}@{provider}.external.invalid").strip().lower(),
                # Nobody knows it: the provider is how this person signs in.
                password_hash=await self.passwords.hash(secrets.token_urlsafe(32)),
                roles="citizen",
                created_at=self.clock.now(),
                email_verified_at=self.clock.now() if email else None,
            )
            if not await self.accounts.add_if_email_free(account):
                raise InvalidExternalToken("The address is taken by another account.")
            await self.audit.record(
                AuditAction.ACCOUNT_CREATED,
                tenant=tenant_ags,
                subject=account_id,
                details={"provider": provider},
            )
        await self.identities.add(
            ExternalIdentity(
                provider=provider, subject=subject, tenant_ags=tenant_ags, account_id=account.id
            )
        )
        return account

    async def _release_address(self, account: Account, provider: str) -> None:
        """Close the unconfirmed ``account`` and free its address for the person the provider
        vouches for: whoever registered it cannot sign in with it, nor confirm it, any more."""
        now = self.clock.now()
        account.email = f"{account.id}{RELEASED_EMAIL_DOMAIN}"
        account.email_verification_hash = None
        account.disabled_at = account.disabled_at or now
        await self.accounts.flush()
        await self.accounts.revoke_refresh_tokens(account.id, now)
        await self.audit.record(
            AuditAction.ACCOUNT_ADDRESS_RELEASED,
            tenant=account.tenant_ags,
            subject=account.id,
            details={"provider": provider, "reason": "email_not_verified"},
        )
