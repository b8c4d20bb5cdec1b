"""Secrets a service must store and use again (a partner's client secret, say): sealed with
AES-256-GCM under a key from the settings, each bound to where it is stored.

The binding (``bound_to``, e.g. ``partner:06999001:06999002``) is authenticated with the
ciphertext, so a sealed value copied to another row does not open there.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12


class SealBroken(Exception):
    """The value does not open: another key, another place, or altered."""


class Sealer:
    def __init__(self, secret: str, *, purpose: str) -> None:
        """``secret`` from the settings (at least 32 characters); ``purpose`` keeps the keys of
        different uses of one secret apart."""
        if len(secret) < 32:
            raise ValueError("a sealing secret needs at least 32 characters")
        key = HKDF(algorithm=SHA256(), length=32, salt=None, info=purpose.encode()).derive(
            secret.encode()
        )
        self._aead = AESGCM(key)

    def seal(self, plaintext: str, *, bound_to: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), bound_to.encode())
        return base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, sealed: str, *, bound_to: str) -> str:
        try:
            raw = base64.urlsafe_b64decode(sealed)
            plaintext = self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], bound_to.encode())
        except (InvalidTag, ValueError) as error:
            raise SealBroken(f"the sealed value for {bound_to} does not open") from error
        return plaintext.decode()
