"""Tokens for calls to partner municipalities: OAuth2 client credentials (RFC 6749 §4.4) from
each partner's own identity.

The token endpoint comes from the partner's OpenID discovery document (its ``issuer`` must be
the one registered). A token is kept until shortly before it expires and shared by the calls
of this process; concurrent calls wait for one request to the partner, not one each. A partner
that answers 401 gets one more try with a fresh token (its keys may have rotated).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import quote_plus

import httpx
from pydantic import BaseModel, ValidationError

from booking.cooperation.models import Partner
from booking.settings import BookingSettings
from servicekit.outbound.client import AnswerTooLarge, OutboundRefused, read_bounded
from servicekit.sealing import SealBroken, Sealer

MAX_DOCUMENT_BYTES = 64 * 1024
EXPIRY_MARGIN_S = 30.0
"""A token is fetched again this long before it expires, so none expires on its way."""


def partner_sealer(settings: BookingSettings) -> Sealer:
    """Seals and opens the client secrets we hold at partners."""
    return Sealer(settings.partner_secrets_key.get_secret_value(), purpose="partner-credentials")


class PartnerTokenUnavailable(Exception):
    """No token could be had from the partner's identity; the message says why."""


class _Discovery(BaseModel):
    issuer: str
    token_endpoint: str


class _TokenAnswer(BaseModel):
    access_token: str
    token_type: str
    expires_in: int = 300


@dataclass(frozen=True)
class _Token:
    value: str
    renew_at: float


M = TypeVar("M", bound=BaseModel)
CacheKey = tuple[str, str, str, str, str]


class PartnerTokens:
    """The access tokens this process holds at partners' identities."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        sealer: Sealer,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.http = http
        self.sealer = sealer
        self.clock = clock
        self._tokens: dict[CacheKey, _Token] = {}
        self._locks: dict[CacheKey, asyncio.Lock] = {}

    async def header(self, partner: Partner) -> dict[str, str]:
        """``Authorization`` for a call to ``partner`` ({} for a partner without credentials)."""
        key = self._key(partner)
        if key is None:
            return {}
        token = self._tokens.get(key)
        if token is None or token.renew_at <= self.clock():
            async with self._locks.setdefault(key, asyncio.Lock()):
                token = self._tokens.get(key)
                if token is None or token.renew_at <= self.clock():
                    token = await self._fetch(partner, key)
                    self._tokens[key] = token
        return {"Authorization": f"Bearer {token.value}"}

    def forget(self, partner: Partner) -> None:
        """Drop the partner's token (it was refused): the next call fetches a fresh one."""
        key = self._key(partner)
        if key is not None:
            self._tokens.pop(key, None)

    @staticmethod
    def _key(partner: Partner) -> CacheKey | None:
        if not (partner.issuer and partner.client_id and partner.client_secret_sealed):
            return None
        # The sealed secret is in the key: changed credentials are a new entry.
        return (
            partner.tenant,
            partner.ags,
            partner.issuer,
            partner.client_id,
            partner.client_secret_sealed,
        )

    async def _fetch(self, partner: Partner, key: CacheKey) -> _Token:
        _, _, issuer, client_id, sealed = key
        try:
            secret = self.sealer.open(sealed, bound_to=partner.seal_binding)
        except SealBroken as broken:
            raise PartnerTokenUnavailable("our client secret does not open") from broken
        issuer = issuer.rstrip("/")
        discovery = await self._get_json(
            "GET", f"{issuer}/.well-known/openid-configuration", _Discovery, "discovery"
        )
        if discovery.issuer.rstrip("/") != issuer:
            raise PartnerTokenUnavailable("the discovery document names another issuer")
        data = {"grant_type": "client_credentials", "scope": partner.scopes or ""}
        answer = await self._get_json(
            "POST",
            discovery.token_endpoint,
            _TokenAnswer,
            "token endpoint",
            data=data,
            # client_secret_basic: both form-encoded first (RFC 6749 section 2.3.1)
            auth=httpx.BasicAuth(quote_plus(client_id), quote_plus(secret)),
        )
        if answer.token_type.lower() != "bearer":
            raise PartnerTokenUnavailable(f"the token endpoint gave a {answer.token_type} token")
        lifetime = max(answer.expires_in - EXPIRY_MARGIN_S, 0.0)
        return _Token(answer.access_token, self.clock() + lifetime)

    async def _get_json(
        self,
        method: str,
        url: str,
        model: type[M],
        what: str,
        *,
        data: dict[str, str] | None = None,
        auth: httpx.Auth | None = None,
    ) -> M:
        try:
            async with self.http.stream(
                method, url, data=data, auth=auth or httpx.USE_CLIENT_DEFAULT
            ) as response:
                status = response.status_code
                body = await read_bounded(response, MAX_DOCUMENT_BYTES)
        except OutboundRefused as refused:
            raise PartnerTokenUnavailable(f"{what} refused: {refused}") from refused
        except AnswerTooLarge as large:
            raise PartnerTokenUnavailable(f"{what} answered too much") from large
        except httpx.HTTPError as error:
            raise PartnerTokenUnavailable(f"{what} unreachable") from error
        if status != 200:
            raise PartnerTokenUnavailable(f"{what} answered {status}")
        try:
            return model.model_validate_json(body)
        except ValidationError as invalid:
            raise PartnerTokenUnavailable(f"{what} answered outside the standard") from invalid
