from __future__ import annotations

from booking.idempotency.service import seal, unseal
from servicekit.idempotency import key_hash


def test_sealed_secret_opens_only_with_the_idempotency_key() -> None:
    token = "q3V8-secret-manage-token-0123456789abcdefghi"

    sealed = seal("key-one-1234567890", "manage_token", token)

    assert token not in sealed
    assert unseal("key-one-1234567890", "manage_token", sealed) == token
    assert unseal("key-two-1234567890", "manage_token", sealed) != token


def test_keys_are_stored_as_hashes() -> None:
    assert key_hash("abc") != "abc"
    assert len(key_hash("abc")) == 64
