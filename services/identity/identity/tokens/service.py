"""Access tokens (signed JWTs, 5 minutes) and refresh tokens (opaque, rotated on every use).

A refresh token that is presented a second time was copied: the whole family (every token
descended from the same login) is revoked, so the thief and the victim both have to log in again.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from identity.accounts.models import Account
from identity.accounts.repository import AccountRepository
from identity.audit.service import Actor, AuditAction, AuditLog
from identity.clients.models import OAuthClient
from identity.clock import Clock
from identity.keys.service import KeyService
from identity.mfa.policy import must_have_second_factor
from identity.settings import IdentitySettings
from identity.tokens.errors import InvalidRefreshToken
from identity.tokens.models import RefreshToken
from identity.tokens.repository import RefreshTokenRepository
from servicekit.auth.jose_safe import sign


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    expires_in: int
    scope: str
    refresh_token: str | None = None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenService:
    def __init__(
        self,
        refresh_tokens: RefreshTokenRepository,
        accounts: AccountRepository,
        keys: KeyService,
        audit: AuditLog,
        clock: Clock,
        settings: IdentitySettings,
    ) -> None:
        self.refresh_tokens = refresh_tokens
        self.accounts = accounts
        self.keys = keys
        self.audit = audit
        self.clock = clock
        self.settings = settings

    async def access_token(
        self,
        *,
        subject: str,
        tenant: str,
        roles: frozenset[str],
        scopes: frozenset[str],
        client_id: str | None = None,
        acr: str | None = None,
        amr: Sequence[str] = (),
    ) -> str:
        now = int(self.clock.now().timestamp())
        claims: dict[str, Any] = {
            "iss": self.settings.auth_issuer,
            "sub": subject,
            "aud": self.settings.auth_audience,
            "iat": now,
            "nbf": now,
            "exp": now + self.settings.access_token_ttl_s,
            "jti": uuid.uuid4().hex,
            "tenant": tenant,
            "roles": sorted(roles),
            "scope": " ".join(sorted(scopes)),
        }
        if client_id is not None:
            claims["client_id"] = client_id
        if acr is not None:
            claims["acr"] = acr
        if amr:
            claims["amr"] = list(amr)
        return sign(claims, await self.keys.signing_key())

    async def for_account(
        self,
        account: Account,
        *,
        family_id: str | None = None,
        acr: str | None = None,
        amr: Sequence[str] = (),
        client_id: str | None = None,
        scopes: frozenset[str] = frozenset(),
    ) -> IssuedTokens:
        """A new access token and a refresh token (a new family unless one is given); ``acr``:
        the level of an external sign-in, ``amr``: how the login was made (``pwd``, ``otp``),
        ``client_id`` and ``scopes``: the OAuth2 client it was authorized for, all kept by the
        family."""
        access = await self.access_token(
            subject=account.id,
            tenant=account.tenant_ags,
            roles=account.role_set,
            scopes=scopes,
            client_id=client_id,
            acr=acr,
            amr=amr,
        )
        refresh = secrets.token_urlsafe(32)
        now = self.clock.now()
        await self.refresh_tokens.add(
            RefreshToken(
                id=str(uuid.uuid4()),
                family_id=family_id or str(uuid.uuid4()),
                account_id=account.id,
                token_hash=_hash(refresh),
                created_at=now,
                expires_at=now + timedelta(seconds=self.settings.refresh_token_ttl_s),
                acr=acr,
                amr=" ".join(amr) or None,
                client_id=client_id,
                scope=" ".join(sorted(scopes)) or None,
            )
        )
        return IssuedTokens(
            access_token=access,
            expires_in=self.settings.access_token_ttl_s,
            scope=" ".join(sorted(scopes)),
            refresh_token=refresh,
        )

    async def id_token(
        self,
        account: Account,
        *,
        client_id: str,
        scopes: frozenset[str],
        amr: Sequence[str],
        auth_time: datetime,
        nonce: str | None,
        access_token: str,
    ) -> str:
        """An OpenID Connect ID token for ``client_id`` (``typ: JWT``, so that it is never
        taken for an access token), with the ``nonce`` of the authorization request and the
        hash of the access token issued beside it (``at_hash``)."""
        now = int(self.clock.now().timestamp())
        digest = hashlib.sha256(access_token.encode("ascii")).digest()
        claims: dict[str, Any] = {
            "iss": self.settings.auth_issuer,
            "sub": account.id,
            "aud": client_id,
            "azp": client_id,
            "iat": now,
            "exp": now + self.settings.access_token_ttl_s,
            "auth_time": int(auth_time.timestamp()),
            "amr": list(amr),
            "at_hash": base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode("ascii"),
            "tenant": account.tenant_ags,
        }
        if nonce is not None:
            claims["nonce"] = nonce
        if "email" in scopes:
            claims["email"] = account.email
            claims["email_verified"] = account.email_verified_at is not None
        return sign(claims, await self.keys.signing_key(), token_type="JWT")

    async def for_client(self, client: OAuthClient, scopes: frozenset[str]) -> IssuedTokens:
        access = await self.access_token(
            subject=client.client_id,
            tenant=client.tenant_ags,
            roles=frozenset({"partner"}),
            scopes=scopes,
            client_id=client.client_id,
        )
        return IssuedTokens(
            access_token=access,
            expires_in=self.settings.access_token_ttl_s,
            scope=" ".join(sorted(scopes)),
        )

    async def refresh(
        self, presented: str, actor: Actor, *, client_id: str | None = None
    ) -> IssuedTokens:
        """Rotate: the presented token is used up and a new one of its family returned.
        A family begun by an OAuth2 client's code is refreshed only by that client
        (``client_id``: the client the caller authenticated, or a public one it named).

        Raises :class:`InvalidRefreshToken`; on reuse the family is revoked first, and the
        caller must commit that even though it answers with an error.
        """
        now = self.clock.now()
        token = await self.refresh_tokens.by_hash(_hash(presented))
        if token is None or token.revoked_at is not None or token.expires_at <= now:
            raise InvalidRefreshToken()
        if token.client_id is not None and token.client_id != client_id:
            raise InvalidRefreshToken()
        account = await self.accounts.get(token.account_id)
        if not await self.refresh_tokens.claim(token.id, now):
            await self.refresh_tokens.revoke_family(token.family_id, now)
            await self.audit.record(
                AuditAction.REFRESH_REUSE,
                outcome="family_revoked",
                actor=actor,
                tenant=account.tenant_ags if account else None,
                subject=token.account_id,
            )
            raise InvalidRefreshToken()
        if account is None or account.disabled_at is not None:
            raise InvalidRefreshToken()
        amr = tuple((token.amr or "").split())
        if must_have_second_factor(account, self.settings) and "otp" not in amr:
            # Begun before the municipality required a second factor: log in with it now.
            raise InvalidRefreshToken()
        await self.audit.record(
            AuditAction.TOKEN_REFRESH, actor=actor, tenant=account.tenant_ags, subject=account.id
        )
        return await self.for_account(
            account,
            family_id=token.family_id,
            acr=token.acr,
            amr=amr,
            client_id=token.client_id,
            scopes=frozenset((token.scope or "").split()),
        )

    async def client_of_family(self, presented: str) -> str | None:
        """The OAuth2 client a refresh token's family was begun for (by its code), if any."""
        token = await self.refresh_tokens.by_hash(_hash(presented))
        return token.client_id if token is not None else None

    async def revoke_family(self, family_id: str) -> None:
        """End every refresh token of the family (those of a replayed authorization code)."""
        await self.refresh_tokens.revoke_family(family_id, self.clock.now())

    async def revoke(self, presented: str, actor: Actor) -> None:
        """Logout: the token's whole family ends; an unknown token is silently ignored."""
        token = await self.refresh_tokens.by_hash(_hash(presented))
        if token is None:
            return
        await self.refresh_tokens.revoke_family(token.family_id, self.clock.now())
        await self.audit.record(AuditAction.LOGOUT, actor=actor, subject=token.account_id)
