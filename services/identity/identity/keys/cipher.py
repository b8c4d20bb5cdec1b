"""Private signing keys at rest: AES-256-GCM under the key-encryption key from the settings."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class KeyDecryptionError(Exception):
    """The stored key cannot be decrypted: not the key-encryption key it was sealed with."""


class KeyCipher:
    def __init__(self, key_encryption_key: bytes) -> None:
        self._aead = AESGCM(key_encryption_key)

    def encrypt(self, private_jwk: dict[str, Any], *, kid: str) -> str:
        nonce = os.urandom(12)
        plaintext = json.dumps(private_jwk, separators=(",", ":")).encode()
        # The kid is bound as associated data: a ciphertext moved to another row fails.
        sealed = self._aead.encrypt(nonce, plaintext, kid.encode())
        return base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def decrypt(self, stored: str, *, kid: str) -> dict[str, Any]:
        raw = base64.urlsafe_b64decode(stored)
        try:
            plaintext = self._aead.decrypt(raw[:12], raw[12:], kid.encode())
        except InvalidTag:
            raise KeyDecryptionError(kid) from None
        value: dict[str, Any] = json.loads(plaintext)
        return value
