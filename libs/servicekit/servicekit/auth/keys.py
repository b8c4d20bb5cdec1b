"""Where the verifier finds public keys: identity's JWKS over HTTP, or a fixed key set.

:class:`RemoteJwks` caches the JWKS for ``ttl_s``; a token naming an unknown ``kid`` triggers a
refetch (a new key after rotation), at most once per ``min_refetch_interval_s`` so that a flood of
made-up kids cannot turn every service into a load generator against identity. Requests that
arrive while a fetch is in flight wait for it instead of answering without keys: right after a
start every request is such a request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import httpx

from servicekit.auth.errors import TokenKeysUnavailable
from servicekit.tracing import Tracing

logger = logging.getLogger("servicekit.auth")

Jwk = Mapping[str, Any]
Clock = Callable[[], float]


class KeySource(Protocol):
    remote: bool
    """True for keys fetched over the network (test apps replace those with test keys)."""

    async def get(self, kid: str) -> Jwk | None:
        """The public JWK with this ``kid``, or None."""
        ...

    async def aclose(self) -> None: ...


def index_jwks(document: Any) -> dict[str, Jwk]:
    """``kid`` to JWK for the usable signing keys of a JWKS document; junk is skipped."""
    keys = document.get("keys") if isinstance(document, Mapping) else None
    if not isinstance(keys, list):
        return {}
    return {
        key["kid"]: key
        for key in keys
        if isinstance(key, Mapping)
        and isinstance(key.get("kid"), str)
        and key.get("use", "sig") == "sig"
    }


class StaticKeys:
    """Keys known without fetching (tests; a service that holds its own keys)."""

    remote = False

    def __init__(self, jwks: Callable[[], Mapping[str, Any]] | Mapping[str, Any]) -> None:
        self._jwks = jwks

    async def get(self, kid: str) -> Jwk | None:
        document = self._jwks() if callable(self._jwks) else self._jwks
        return index_jwks(document).get(kid)

    async def aclose(self) -> None:
        return None


class RemoteJwks:
    """Identity's JWKS fetched over HTTP and cached."""

    remote = True

    def __init__(
        self,
        url: str,
        *,
        client: httpx.AsyncClient | None = None,
        ttl_s: float = 300.0,
        min_refetch_interval_s: float = 30.0,
        timeout_s: float = 5.0,
        clock: Clock = time.monotonic,
        tracing: Tracing | None = None,
    ) -> None:
        self.url = url
        self.ttl_s = ttl_s
        self._tracing = tracing or Tracing()
        self.min_refetch_interval_s = min_refetch_interval_s
        self._timeout_s = timeout_s
        self._clock = clock
        self._client = client
        self._owns_client = client is None
        self._keys: dict[str, Jwk] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._fetching: asyncio.Task[None] | None = None
        self.fetches = 0

    def _may_fetch(self) -> bool:
        if self._attempted_at is None:
            return True
        return self._clock() - self._attempted_at >= self.min_refetch_interval_s

    async def get(self, kid: str) -> Jwk | None:
        if self._fetching is not None:
            await asyncio.shield(self._fetching)
        stale = self._fetched_at is None or self._clock() - self._fetched_at >= self.ttl_s
        if stale and self._may_fetch():
            await self._refresh()
        key = self._keys.get(kid)
        if key is None and self._may_fetch():
            await self._refresh()
            key = self._keys.get(kid)
        if key is None and not self._keys:
            raise TokenKeysUnavailable("No signing keys could be fetched; try again later.")
        return key

    async def _refresh(self) -> None:
        # One fetch at a time, shared by every request that needs it; shielded, so a caller
        # that goes away (a client disconnect) does not cancel the others' fetch.
        if self._fetching is None:
            self._attempted_at = self._clock()
            self._fetching = asyncio.create_task(self._fetch())
            self._fetching.add_done_callback(self._fetched)
        await asyncio.shield(self._fetching)

    def _fetched(self, _task: asyncio.Task[None]) -> None:
        self._fetching = None

    async def _fetch(self) -> None:
        self.fetches += 1
        try:
            response = await self._http().get(self.url, timeout=self._timeout_s)
            response.raise_for_status()
            keys = index_jwks(response.json())
        except (httpx.HTTPError, ValueError) as exc:
            logger.warning("fetching the JWKS failed: %s", type(exc).__name__)
            return
        self._keys = keys
        self._fetched_at = self._clock()

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            # Traced, a fetch is a span of the request that needed the keys.
            self._client = self._tracing.instrument_client(httpx.AsyncClient())
        return self._client

    async def aclose(self) -> None:
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None
