"""argon2id password hashing, off the event loop, and the password rules."""

from __future__ import annotations

import anyio.to_thread
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from identity.accounts.errors import WeakPassword
from identity.settings import IdentitySettings

MAX_PASSWORD_LENGTH = 1024


class Passwords:
    def __init__(self, settings: IdentitySettings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
            type=Type.ID,
        )
        self.min_length = settings.password_min_length
        # Verified against when there is no account, so unknown users cost the same time.
        self._dummy_hash = self._hasher.hash("no account has this password")

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True when ``password`` matches; with no hash, spends the same time and says False."""
        target = password_hash or self._dummy_hash
        try:
            await anyio.to_thread.run_sync(self._hasher.verify, target, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return password_hash is not None

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)

    def ensure_acceptable(self, password: str, *, email: str) -> None:
        """WeakPassword, saying why, unless ``password`` meets the rules."""
        problems = self.problems(password, email=email)
        if problems:
            raise WeakPassword("The password needs " + ", ".join(problems) + ".")

    def problems(self, password: str, *, email: str) -> list[str]:
        """Why ``password`` is not acceptable for the account with ``email``; empty when it is."""
        found: list[str] = []
        if len(password) < self.min_length:
            found.append(f"at least {self.min_length} characters")
        if len(password) > MAX_PASSWORD_LENGTH:
            found.append(f"at most {MAX_PASSWORD_LENGTH} characters")
        if password.strip().casefold() == email.strip().casefold():
            found.append("not the email address")
        return found
