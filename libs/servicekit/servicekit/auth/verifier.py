"""TokenVerifier: from a bearer token to a :class:`Principal`, or :class:`InvalidToken`."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from servicekit.auth.errors import InvalidToken
from servicekit.auth.jose_safe import TokenRejected, unverified_key_id, verify
from servicekit.auth.keys import KeySource, RemoteJwks
from servicekit.auth.principal import Principal
from servicekit.settings import ServiceSettings

logger = logging.getLogger("servicekit.auth")


class TokenVerifier:
    """Checks access tokens against the issuer's keys, issuer, audience and lifetime."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        sources: Sequence[KeySource],
        leeway_s: int = 30,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.sources = tuple(sources)
        self.leeway_s = leeway_s

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> TokenVerifier:
        return cls(
            issuer=settings.auth_issuer,
            audience=settings.auth_audience,
            sources=[
                RemoteJwks(
                    settings.auth_jwks_url,
                    ttl_s=settings.auth_jwks_cache_s,
                    min_refetch_interval_s=settings.auth_jwks_min_refetch_s,
                )
            ],
            leeway_s=settings.auth_leeway_s,
        )

    def trusting(self, source: KeySource) -> TokenVerifier:
        """A verifier that also trusts ``source`` and no longer fetches remote keys (tests)."""
        kept = [existing for existing in self.sources if not existing.remote]
        return TokenVerifier(
            issuer=self.issuer,
            audience=self.audience,
            sources=[source, *kept],
            leeway_s=self.leeway_s,
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
            claims = verify(
                token,
                {kid: key},
                issuer=self.issuer,
                audience=self.audience,
                leeway_s=self.leeway_s,
            )
            return Principal.from_claims(claims)
        except TokenRejected as exc:
            # The reason goes to the log only: a client learns nothing that helps forging.
            logger.info("access token rejected: %s", exc)
            raise InvalidToken("The access token is not valid.") from None

    async def aclose(self) -> None:
        for source in self.sources:
            await source.aclose()
