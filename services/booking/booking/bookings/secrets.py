"""Booking codes for the counter and manage-link tokens (stored only as hashes)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

# No 0/O, 1/I/L: a code is read aloud and typed at a kiosk.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def new_manage_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


NO_TOKEN_HASH = ""
"""Stored instead of a hash where there is no manage link (a walk-in) or no longer one (erased):
no token hashes to the empty string."""


def token_matches(presented: str | None, stored_hash: str) -> bool:
    if not presented:
        return False
    return hmac.compare_digest(hash_token(presented), stored_hash)
