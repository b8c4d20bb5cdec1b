from __future__ import annotations

import os

import pytest

from documents.crypto.keys import KeyRing, UnknownKeyEncryptionKey, UnwrapFailed, WrappedKey
from documents.crypto.stream import (
    HEADER_BYTES,
    TAG_BYTES,
    ChunkDecryptor,
    ChunkEncryptor,
    IntegrityError,
    encrypted_size,
)

CHUNK = 4096


def encrypt(key: bytes, data: bytes, pieces: int = 7) -> bytes:
    encryptor = ChunkEncryptor(key, chunk_size=CHUNK)
    step = max(1, len(data) // pieces)
    out = [encryptor.update(data[i : i + step]) for i in range(0, len(data), step)]
    out.append(encryptor.finish())
    return b"".join(out)


def decrypt(key: bytes, blob: bytes, step: int = 1000) -> bytes:
    decryptor = ChunkDecryptor(key)
    out = [decryptor.update(blob[i : i + step]) for i in range(0, len(blob), step)]
    out.append(decryptor.finish())
    return b"".join(out)


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 5 * CHUNK + 17])
def test_round_trip_for_sizes_around_chunk_boundaries(size: int) -> None:
    key = os.urandom(32)
    data = os.urandom(size)

    blob = encrypt(key, data)

    assert len(blob) == encrypted_size(size, CHUNK)
    assert decrypt(key, blob) == data


def test_same_plaintext_and_key_give_different_ciphertexts() -> None:
    key = os.urandom(32)
    data = b"same bytes" * 1000

    assert encrypt(key, data) != encrypt(key, data)


def test_every_flipped_byte_is_detected() -> None:
    key = os.urandom(32)
    blob = encrypt(key, os.urandom(2 * CHUNK + 100))

    for position in range(0, len(blob), 97):
        damaged = bytearray(blob)
        damaged[position] ^= 0x01
        with pytest.raises(IntegrityError):
            decrypt(key, bytes(damaged))


def test_truncation_at_a_chunk_boundary_is_detected() -> None:
    key = os.urandom(32)
    blob = encrypt(key, os.urandom(3 * CHUNK))
    one_chunk_less = blob[: HEADER_BYTES + 2 * (CHUNK + TAG_BYTES)]

    with pytest.raises(IntegrityError):
        decrypt(key, one_chunk_less)


def test_reordered_chunks_are_detected() -> None:
    key = os.urandom(32)
    blob = encrypt(key, os.urandom(3 * CHUNK + 5))
    sealed = CHUNK + TAG_BYTES
    first = blob[HEADER_BYTES : HEADER_BYTES + sealed]
    second = blob[HEADER_BYTES + sealed : HEADER_BYTES + 2 * sealed]
    swapped = blob[:HEADER_BYTES] + second + first + blob[HEADER_BYTES + 2 * sealed :]

    with pytest.raises(IntegrityError):
        decrypt(key, swapped)


def test_appended_bytes_are_detected() -> None:
    key = os.urandom(32)
    blob = encrypt(key, os.urandom(CHUNK * 2))

    with pytest.raises(IntegrityError):
        decrypt(key, blob + os.urandom(CHUNK + TAG_BYTES))


def test_no_plaintext_of_a_damaged_chunk_is_released() -> None:
    key = os.urandom(32)
    data = os.urandom(3 * CHUNK)
    blob = bytearray(encrypt(key, data))
    blob[HEADER_BYTES + (CHUNK + TAG_BYTES) + 10] ^= 0x80  # inside the second chunk
    decryptor = ChunkDecryptor(key)
    released = bytearray()

    def feed_all() -> None:
        for i in range(0, len(blob), 512):
            released.extend(decryptor.update(bytes(blob[i : i + 512])))

    with pytest.raises(IntegrityError):
        feed_all()

    assert bytes(released) == data[:CHUNK]


def test_wrong_key_fails() -> None:
    blob = encrypt(os.urandom(32), b"secret")

    with pytest.raises(IntegrityError):
        decrypt(os.urandom(32), blob)


def test_wrapped_key_unwraps_only_for_its_document() -> None:
    ring = KeyRing({"k1": os.urandom(32)}, "k1")
    data_key = os.urandom(32)
    wrapped = ring.wrap(data_key, "doc-a")

    assert ring.unwrap(wrapped, "doc-a") == data_key
    with pytest.raises(UnwrapFailed):
        ring.unwrap(wrapped, "doc-b")


def test_rotated_ring_still_unwraps_old_keys_and_rewraps_to_the_active_one() -> None:
    old, new = os.urandom(32), os.urandom(32)
    data_key = os.urandom(32)
    wrapped = KeyRing({"old": old}, "old").wrap(data_key, "doc")
    rotated = KeyRing({"old": old, "new": new}, "new")

    rewrapped = rotated.rewrap(wrapped, "doc")

    assert rewrapped.kek_id == "new"
    assert KeyRing({"new": new}, "new").unwrap(rewrapped, "doc") == data_key


def test_unknown_kek_id_is_reported() -> None:
    ring = KeyRing({"k1": os.urandom(32)}, "k1")

    with pytest.raises(UnknownKeyEncryptionKey):
        ring.unwrap(WrappedKey(kek_id="gone", wrapped=b"\x01" + bytes(60)), "doc")
