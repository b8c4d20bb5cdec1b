"""The authorization code grant with PKCE (RFC 6749 section 4.1, RFC 7636), by OAuth 2.1's rules.

- The client and its redirect URI are checked first, and the URI must equal one the client
  registered, character for character. Until both passed nothing is redirected anywhere
  (:class:`AuthorizationRequestRefused`); after that every error goes back to the client at
  that URI (:class:`Redirected`), with its ``state``.
- Only ``response_type=code``, only ``S256``; ``state`` is required (so a client can always
  tie the answer to its request), ``nonce`` is passed into the ID token.
- A code is a 256-bit random value stored as its SHA-256, used once within ``CODE_TTL_S``, and
  bound to its client, redirect URI and code challenge. A code presented a second time was
  copied: the refresh family redeemed from it is revoked (its access tokens end within their
  five minutes) and the answer is ``invalid_grant``.
- A public client (a frontend without a secret) redeems its code with the verifier alone; a
  confidential one authenticates as at the client credentials grant.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import NoReturn

from identity.accounts.repository import AccountRepository
from identity.audit.service import Actor, AuditAction, AuditLog
from identity.clients.models import OAuthClient
from identity.clients.repository import ClientRepository
from identity.clock import Clock
from identity.oauth2.errors import AuthorizationRequestRefused, OAuth2Failure, Redirected
from identity.oauth2.models import AuthorizationCode
from identity.oauth2.repository import AuthorizationCodeRepository
from identity.tokens.service import IssuedTokens, TokenService
from servicekit.constant_time import same_secret

OIDC_SCOPES = frozenset({"openid", "profile", "email"})
"""What every client may ask of a person's account, beside the scopes it holds."""
CODE_TTL_S = 60
KEPT_S = 86_400
"""How long a used code is kept, so that its replay still revokes what it gave."""
_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")
_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")


@dataclass(frozen=True)
class AuthorizationRequest:
    """A checked authorization request, as the sign-in page carries it from step to step."""

    client_id: str
    redirect_uri: str
    scopes: frozenset[str]
    state: str
    code_challenge: str
    nonce: str | None


@dataclass(frozen=True)
class Redeemed:
    """What the token endpoint answers for a code."""

    tokens: IssuedTokens
    id_token: str | None


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def s256(verifier: str) -> str:
    """The S256 code challenge of a verifier (RFC 7636 section 4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class AuthorizationService:
    def __init__(
        self,
        clients: ClientRepository,
        codes: AuthorizationCodeRepository,
        accounts: AccountRepository,
        tokens: TokenService,
        audit: AuditLog,
        clock: Clock,
    ) -> None:
        self.clients = clients
        self.codes = codes
        self.accounts = accounts
        self.tokens = tokens
        self.audit = audit
        self.clock = clock

    async def client_for(self, client_id: str | None, redirect_uri: str | None) -> OAuthClient:
        """The client, if it is enabled and registered exactly this redirect URI."""
        if not client_id or not redirect_uri:
            raise AuthorizationRequestRefused("client_id and redirect_uri are required.")
        client = await self.clients.get(client_id)
        if client is None or client.disabled_at is not None:
            raise AuthorizationRequestRefused("This application is not known here.")
        if redirect_uri not in client.redirect_uri_list:
            raise AuthorizationRequestRefused(
                "The address to return to is not one this application registered."
            )
        return client

    def check(
        self,
        client: OAuthClient,
        *,
        response_type: str | None,
        scope: str | None,
        state: str | None,
        code_challenge: str | None,
        code_challenge_method: str | None,
        nonce: str | None,
        prompt: str | None,
        redirect_uri: str,
    ) -> AuthorizationRequest:
        """The request's remaining parameters; :class:`Redirected` for a wrong one."""
        if response_type != "code":
            raise Redirected("unsupported_response_type", "Only response_type=code is supported.")
        if not state:
            raise Redirected("invalid_request", "state is required.")
        if not code_challenge:
            raise Redirected("invalid_request", "PKCE is required: send a code_challenge.")
        if code_challenge_method != "S256":
            raise Redirected("invalid_request", "code_challenge_method must be S256.")
        if not _CHALLENGE.fullmatch(code_challenge):
            raise Redirected("invalid_request", "code_challenge is not an S256 challenge.")
        scopes = frozenset((scope or "openid").split())
        if not scopes <= (client.scope_set | OIDC_SCOPES):
            raise Redirected("invalid_scope", "A requested scope is not granted to this client.")
        if prompt is not None and "none" in prompt.split():
            # Identity keeps no browser session: a sign-in without the page is never possible.
            raise Redirected("login_required", "Sign-in requires the sign-in page.")
        return AuthorizationRequest(
            client_id=client.client_id,
            redirect_uri=redirect_uri,
            scopes=scopes,
            state=state,
            code_challenge=code_challenge,
            nonce=nonce or None,
        )

    async def issue(
        self,
        request: AuthorizationRequest,
        account_id: str,
        amr: tuple[str, ...],
        actor: Actor,
    ) -> str:
        """A new code for the signed-in account."""
        account = await self.accounts.get(account_id)
        if account is None or account.disabled_at is not None:
            raise AuthorizationRequestRefused("This account cannot sign in.")
        code = secrets.token_urlsafe(32)
        now = self.clock.now()
        await self.codes.drop_older(account.id, now - timedelta(seconds=KEPT_S))
        await self.codes.add(
            AuthorizationCode(
                id=str(uuid.uuid4()),
                code_hash=_hash(code),
                client_id=request.client_id,
                account_id=account.id,
                redirect_uri=request.redirect_uri,
                code_challenge=request.code_challenge,
                scope=" ".join(sorted(request.scopes)),
                nonce=request.nonce,
                amr=" ".join(amr),
                auth_time=now,
                created_at=now,
                expires_at=now + timedelta(seconds=CODE_TTL_S),
                family_id=str(uuid.uuid4()),
            )
        )
        await self.audit.record(
            AuditAction.AUTHORIZATION_CODE,
            actor=actor,
            tenant=account.tenant_ags,
            subject=account.id,
            details={"client_id": request.client_id},
        )
        return code

    async def redeem(
        self,
        client: OAuthClient,
        *,
        code: str,
        redirect_uri: str,
        code_verifier: str,
        actor: Actor,
    ) -> Redeemed:
        """Tokens for a code of ``client`` (authenticated by the caller as its kind needs);
        :class:`OAuth2Failure` otherwise, after which the caller commits (a replay revokes)."""
        now = self.clock.now()
        stored = await self.codes.by_hash(_hash(code))
        if stored is None:
            raise OAuth2Failure("invalid_grant", "The authorization code is not valid.")
        if stored.used_at is not None:
            await self._replayed(stored, actor)
        if stored.client_id != client.client_id:
            raise OAuth2Failure("invalid_grant", "The code was issued to another client.")
        if stored.expires_at <= now:
            raise OAuth2Failure("invalid_grant", "The authorization code has expired.")
        if not same_secret(redirect_uri, stored.redirect_uri):
            raise OAuth2Failure("invalid_grant", "redirect_uri differs from the request's.")
        if not _VERIFIER.fullmatch(code_verifier) or not hmac.compare_digest(
            s256(code_verifier), stored.code_challenge
        ):
            raise OAuth2Failure("invalid_grant", "The code_verifier does not match.")
        if not await self.codes.claim(stored.id, now):
            await self._replayed(stored, actor)
        account = await self.accounts.get(stored.account_id)
        if account is None or account.disabled_at is not None:
            raise OAuth2Failure("invalid_grant", "The account cannot sign in.")
        scopes = frozenset(stored.scope.split())
        amr = tuple(stored.amr.split())
        issued = await self.tokens.for_account(
            account,
            family_id=stored.family_id,
            amr=amr,
            client_id=client.client_id,
            scopes=scopes,
        )
        id_token = None
        if "openid" in scopes:
            id_token = await self.tokens.id_token(
                account,
                client_id=client.client_id,
                scopes=scopes,
                amr=amr,
                auth_time=stored.auth_time,
                nonce=stored.nonce,
                access_token=issued.access_token,
            )
        return Redeemed(issued, id_token)

    async def _replayed(self, stored: AuthorizationCode, actor: Actor) -> NoReturn:
        await self.tokens.revoke_family(stored.family_id)
        await self.audit.record(
            AuditAction.AUTHORIZATION_CODE_REUSE,
            outcome="family_revoked",
            actor=actor,
            subject=stored.account_id,
            details={"client_id": stored.client_id},
        )
        raise OAuth2Failure("invalid_grant", "The authorization code was used already.")
