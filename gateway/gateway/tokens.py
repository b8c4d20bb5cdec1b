"""Access tokens the gateway has verified, remembered until they expire.

A signature check costs more than proxying a request (about 80 µs against 70 µs here), and a
frontend sends the same token for minutes. Only successful verifications are remembered,
keyed by the exact token, never beyond its ``exp`` (no leeway), and forgotten when the
verifier is replaced. The services verify every token again: this is the early check.
"""

from __future__ import annotations

import time
from typing import Any


class VerifiedTokens:
    def __init__(self, *, max_entries: int = 4096) -> None:
        self._entries: dict[str, tuple[float, Any]] = {}
        self._max_entries = max_entries
        self._verifier: object | None = None

    async def principal(self, verifier: Any, token: str) -> Any:
        """The token's principal; raises the verifier's problem for a bad token."""
        if verifier is not self._verifier:
            self._entries.clear()
            self._verifier = verifier
        now = time.time()
        entry = self._entries.get(token)
        if entry is not None:
            if entry[0] > now:
                return entry[1]
            del self._entries[token]
        principal = await verifier.principal(token)
        expires = principal.expires_at.timestamp()
        if expires > now:
            if len(self._entries) >= self._max_entries:
                self._evict(now)
            self._entries[token] = (expires, principal)
        return principal

    def _evict(self, now: float) -> None:
        live = {k: v for k, v in self._entries.items() if v[0] > now}
        if len(live) >= self._max_entries:
            # Oldest first (dicts keep insertion order): drop the older half.
            live = dict(list(live.items())[len(live) // 2 :])
        self._entries = live
