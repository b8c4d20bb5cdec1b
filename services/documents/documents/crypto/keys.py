"""Key-encryption keys (KEKs) and the per-document data keys they wrap.

Every document has its own random 256-bit data key. Only its wrapped form is stored: AES-256-GCM
under a KEK named by id, with the document id and KEK id bound into the AAD, so a wrapped key
copied onto another document does not unwrap. KEKs rotate by adding a new one and making it
active; old documents stay readable while their KEK is kept, and ``rewrap`` moves them over.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

DATA_KEY_BYTES = 32
_WRAP_NONCE_BYTES = 12
_WRAP_VERSION = b"\x01"


class KeyRingError(Exception):
    """Base of key problems (an unknown KEK id, a wrapped key that does not unwrap)."""


class UnknownKeyEncryptionKey(KeyRingError):
    pass


class UnwrapFailed(KeyRingError):
    pass


def decode_kek(value: str) -> bytes:
    """A KEK given as base64 (standard or urlsafe), which must decode to exactly 32 bytes."""
    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_", validate=False)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("a key-encryption key must be base64") from exc
    if len(raw) != DATA_KEY_BYTES:
        raise ValueError("a key-encryption key must be 32 bytes (AES-256)")
    return raw


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


@dataclass(frozen=True)
class WrappedKey:
    kek_id: str
    wrapped: bytes


class KeyRing:
    """The KEKs this service knows, and which one wraps new data keys."""

    def __init__(self, keks: dict[str, bytes], active_id: str) -> None:
        if active_id not in keks:
            raise ValueError(f"the active key-encryption key {active_id!r} is not configured")
        for kek_id, key in keks.items():
            if len(key) != DATA_KEY_BYTES:
                raise ValueError(f"key-encryption key {kek_id!r} is not 32 bytes")
        self._keks = dict(keks)
        self.active_id = active_id

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(self._keks)

    def _aad(self, kek_id: str, document_id: str) -> bytes:
        return b"rathaus-documents/data-key|" + kek_id.encode() + b"|" + document_id.encode()

    def wrap(self, data_key: bytes, document_id: str) -> WrappedKey:
        kek_id = self.active_id
        nonce = os.urandom(_WRAP_NONCE_BYTES)
        sealed = AESGCM(self._keks[kek_id]).encrypt(nonce, data_key, self._aad(kek_id, document_id))
        return WrappedKey(kek_id=kek_id, wrapped=_WRAP_VERSION + nonce + sealed)

    def unwrap(self, wrapped: WrappedKey, document_id: str) -> bytes:
        kek = self._keks.get(wrapped.kek_id)
        if kek is None:
            raise UnknownKeyEncryptionKey(
                f"key-encryption key {wrapped.kek_id!r} is not configured"
            )
        blob = wrapped.wrapped
        if blob[:1] != _WRAP_VERSION or len(blob) < 1 + _WRAP_NONCE_BYTES + 16:
            raise UnwrapFailed("wrapped data key has an unknown format")
        nonce = blob[1 : 1 + _WRAP_NONCE_BYTES]
        try:
            return AESGCM(kek).decrypt(
                nonce, blob[1 + _WRAP_NONCE_BYTES :], self._aad(wrapped.kek_id, document_id)
            )
        except InvalidTag as exc:
            raise UnwrapFailed("wrapped data key does not unwrap") from exc

    def rewrap(self, wrapped: WrappedKey, document_id: str) -> WrappedKey:
        """The same data key wrapped under the active KEK (unchanged when already so)."""
        if wrapped.kek_id == self.active_id:
            return wrapped
        return self.wrap(self.unwrap(wrapped, document_id), document_id)
