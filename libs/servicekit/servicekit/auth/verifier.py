"""TokenVerifier: from a bearer token to a :class:`Principal`, or :class:`InvalidToken`."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from servicekit.auth.errors import InvalidToken
from servicekit.auth.jose_safe import TokenRejected, unverified_key_id, verify
from servicekit.auth.keys import Jwk, KeySource, RemoteJwks
from servicekit.auth.principal import Principal
from servicekit.settings import ServiceSettings
from servicekit.tracing import Tracing

logger = logging.getLogger("servicekit.auth")

DEFAULT_VERIFIED_TOKENS = 10_000


@dataclass(frozen=True, slots=True)
class _Verified:
    key: Jwk
    principal: Principal
    valid_from: float
    valid_until: float


class VerifiedTokens:
    """Tokens whose signature and claims were checked, so that a client sending the same token
    again is not checked from scratch (a signature check and the claim parsing were about a
    tenth of a small request).

    An entry is kept by the token's SHA-256 (the tokens themselves are not kept) with the key
    that verified it and the window its ``exp``, ``iat`` and ``nbf`` allow. It counts only
    while the key source still publishes that very key under the token's ``kid`` and the clock
    is inside that window; the verifier looks both up on every request. At most ``size``
    tokens are kept, the oldest leave first; rejected tokens are never kept.
    """

    def __init__(self, size: int, clock: Callable[[], float] = time.time) -> None:
        self.size = size
        self._clock = clock
        self._entries: dict[bytes, _Verified] = {}

    @staticmethod
    def digest(token: str) -> bytes:
        return hashlib.sha256(token.encode()).digest()

    def get(self, digest: bytes, key: Jwk) -> Principal | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        if entry.key != key or not entry.valid_from <= self._clock() < entry.valid_until:
            del self._entries[digest]
            return None
        return entry.principal

    def add(
        self,
        digest: bytes,
        key: Jwk,
        principal: Principal,
        claims: Mapping[str, Any],
        leeway_s: int,
    ) -> None:
        if self.size <= 0:
            return
        starts = max(float(claims["iat"]), float(claims.get("nbf") or 0))
        while len(self._entries) >= self.size:
            del self._entries[next(iter(self._entries))]
        self._entries[digest] = _Verified(
            key=key,
            principal=principal,
            valid_from=starts - leeway_s,
            valid_until=float(claims["exp"]) + leeway_s,
        )


class TokenVerifier:
    """Checks access tokens against the issuer's keys, issuer, audience and lifetime."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        sources: Sequence[KeySource],
        leeway_s: int = 30,
        verified: VerifiedTokens | None = None,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.sources = tuple(sources)
        self.leeway_s = leeway_s
        self.verified = verified or VerifiedTokens(DEFAULT_VERIFIED_TOKENS)

    @classmethod
    def from_settings(
        cls, settings: ServiceSettings, *, tracing: Tracing | None = None
    ) -> TokenVerifier:
        return cls(
            issuer=settings.auth_issuer,
            audience=settings.auth_audience,
            sources=[
                RemoteJwks(
                    settings.auth_jwks_url,
                    ttl_s=settings.auth_jwks_cache_s,
                    min_refetch_interval_s=settings.auth_jwks_min_refetch_s,
                    tracing=tracing,
                )
            ],
            leeway_s=settings.auth_leeway_s,
            verified=VerifiedTokens(settings.auth_verified_tokens),
        )

    def trusting(self, source: KeySource) -> TokenVerifier:
        """A verifier that also trusts ``source`` and no longer fetches remote keys (tests)."""
        kept = [existing for existing in self.sources if not existing.remote]
        return TokenVerifier(
            issuer=self.issuer,
            audience=self.audience,
            sources=[source, *kept],
            leeway_s=self.leeway_s,
            verified=VerifiedTokens(self.verified.size),
        )

    async def principal(self, token: str) -> Principal:
        try:
            kid = unverified_key_id(token)
            for source in self.sources:
                key = await source.get(kid)
                if key is not None:
                    break
            else:
                raise TokenRejected("unknown key id")
            digest = self.verified.digest(token)
            known = self.verified.get(digest, key)
            if known is not None:
                return known
            claims = verify(
                token,
                {kid: key},
                issuer=self.issuer,
                audience=self.audience,
                leeway_s=self.leeway_s,
            )
            principal = Principal.from_claims(claims)
            self.verified.add(digest, key, principal, claims, self.leeway_s)
            return principal
        except TokenRejected as exc:
            # The reason goes to the log only: a client learns nothing that helps forging.
            logger.info("access token rejected: %s", exc)
            raise InvalidToken("The access token is not valid.") from None

    async def aclose(self) -> None:
        for source in self.sources:
            await source.aclose()
