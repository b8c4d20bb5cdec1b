"""Booking codes for the counter and manage-link tokens (stored only as hashes)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid

# No 0/O, 1/I/L: a code is read aloud and typed at a kiosk.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def manage_token_for(booking_id: uuid.UUID, secret: str) -> str:
    """The booking's manage token: derived, so a mail written later (a reminder) can carry
    the link although the database keeps only the token's hash."""
    return _derived(secret, b"manage:" + booking_id.bytes)


def opt_in_token_for(booking_id: uuid.UUID, email: str, secret: str) -> str:
    """The token of the double opt-in link: only the mail to ``email`` carries it (the hold's
    answer has the manage token, which does not confirm)."""
    return _derived(secret, b"opt-in:" + booking_id.bytes + email.lower().encode())


def waitlist_token_for(subscription_id: uuid.UUID, purpose: str, secret: str) -> str:
    """The token of a waitlist link (``confirm:<address>``, ``unsubscribe``, ``offer:<n>``):
    derived, so the database keeps none; each purpose's link does only its own thing."""
    return _derived(secret, b"waitlist:" + subscription_id.bytes + purpose.encode())


def _derived(secret: str, message: bytes) -> str:
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


NO_TOKEN_HASH = ""
"""Stored instead of a hash where there is no manage link (a walk-in) or no longer one (erased):
no token hashes to the empty string."""


def token_matches(presented: str | None, stored_hash: str) -> bool:
    if not presented:
        return False
    return hmac.compare_digest(hash_token(presented), stored_hash)
