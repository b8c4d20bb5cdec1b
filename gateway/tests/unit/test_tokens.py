from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from gateway.tokens import VerifiedTokens


@dataclass
class _Principal:
    subject: str
    expires_at: datetime


class _Verifier:
    def __init__(self, lifetime: timedelta = timedelta(minutes=5)) -> None:
        self.calls = 0
        self.lifetime = lifetime

    async def principal(self, token: str) -> _Principal:
        self.calls += 1
        if token == "bad":
            raise ValueError("invalid token")
        return _Principal(subject=token, expires_at=datetime.now(UTC) + self.lifetime)


async def test_a_verified_token_is_checked_once_until_it_expires() -> None:
    tokens, verifier = VerifiedTokens(), _Verifier()

    first = await tokens.principal(verifier, "t1")
    second = await tokens.principal(verifier, "t1")

    assert first is second
    assert verifier.calls == 1


async def test_an_expired_token_is_verified_again() -> None:
    tokens, verifier = VerifiedTokens(), _Verifier(lifetime=timedelta(seconds=-1))

    await tokens.principal(verifier, "t1")
    await tokens.principal(verifier, "t1")

    assert verifier.calls == 2


async def test_a_bad_token_is_never_remembered() -> None:
    tokens, verifier = VerifiedTokens(), _Verifier()

    for _ in range(2):
        with pytest.raises(ValueError, match="invalid"):
            await tokens.principal(verifier, "bad")

    assert verifier.calls == 2


async def test_a_new_verifier_forgets_what_the_old_one_verified() -> None:
    tokens, old, new = VerifiedTokens(), _Verifier(), _Verifier()

    await tokens.principal(old, "t1")
    await tokens.principal(new, "t1")

    assert (old.calls, new.calls) == (1, 1)


async def test_the_cache_stays_bounded() -> None:
    tokens, verifier = VerifiedTokens(max_entries=4), _Verifier()

    for index in range(10):
        await tokens.principal(verifier, f"t{index}")
    await tokens.principal(verifier, "t9")

    assert verifier.calls == 10
    assert len(tokens._entries) <= 4
