"""Signing keys: one active key signs, passive keys still verify, retired keys are gone.

Rotation makes a new active key and demotes the old one to passive, so tokens it signed keep
verifying until an admin retires it (wait at least one access-token lifetime, plus the JWKS
cache time of the services, before retiring).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import anyio.to_thread

from identity.audit.service import Actor, AuditAction, AuditLog
from identity.clock import Clock
from identity.keys.cipher import KeyCipher
from identity.keys.errors import ActiveKeyCannotRetire, SigningKeyNotFound
from identity.keys.models import KeyState, SigningKey
from identity.keys.repository import SigningKeyRepository
from servicekit.auth.jose_safe import generate_private_jwk, public_jwk
from servicekit.problems import Conflict


class RotationConflict(Conflict):
    type_slug = "key-rotation-conflict"
    title = "Another key rotation happened at the same moment; try again"


class KeyService:
    def __init__(
        self,
        keys: SigningKeyRepository,
        cipher: KeyCipher,
        audit: AuditLog,
        clock: Clock,
        *,
        algorithm: str,
        rsa_bits: int,
    ) -> None:
        self.keys = keys
        self.cipher = cipher
        self.audit = audit
        self.clock = clock
        self.algorithm = algorithm
        self.rsa_bits = rsa_bits

    async def signing_key(self) -> dict[str, Any]:
        """The active private JWK, made on first use."""
        key = await self.keys.active()
        if key is None:
            key = await self._new_active_key()
            if not await self.keys.add_if_possible(key):
                key = await self.keys.active()
                if key is None:
                    raise RotationConflict()
        return self.cipher.decrypt(key.private_jwk_encrypted, kid=key.kid)

    async def _new_active_key(self) -> SigningKey:
        # RSA key generation takes a while: keep it off the event loop.
        private = await anyio.to_thread.run_sync(
            lambda: generate_private_jwk(self.algorithm, rsa_bits=self.rsa_bits)
        )
        now = self.clock.now()
        return SigningKey(
            kid=private["kid"],
            algorithm=self.algorithm,
            state=KeyState.ACTIVE,
            public_jwk=json.dumps(public_jwk(private), sort_keys=True),
            private_jwk_encrypted=self.cipher.encrypt(private, kid=private["kid"]),
            created_at=now,
            activated_at=now,
        )

    async def rotate(self, actor: Actor) -> SigningKey:
        """A new active key; the previous one becomes passive."""
        new = await self._new_active_key()
        previous = await self.keys.active()
        if previous is not None:
            previous.state = KeyState.PASSIVE
            await self.keys.flush()
        if not await self.keys.add_if_possible(new):
            raise RotationConflict()
        await self.audit.record(
            AuditAction.KEY_ROTATION,
            actor=actor,
            subject=new.kid,
            details={"previous": previous.kid} if previous else None,
        )
        return new

    async def retire(self, kid: str, actor: Actor) -> SigningKey:
        """Stop publishing ``kid``: tokens it signed are rejected from now on."""
        key = await self.keys.get(kid)
        if key is None:
            raise SigningKeyNotFound(f"No signing key {kid}.")
        if key.state == KeyState.ACTIVE:
            raise ActiveKeyCannotRetire()
        if key.state != KeyState.RETIRED:
            key.state = KeyState.RETIRED
            key.retired_at = self.clock.now()
            await self.keys.flush()
            await self.audit.record(AuditAction.KEY_RETIREMENT, actor=actor, subject=kid)
        return key

    async def list(self) -> Sequence[SigningKey]:
        return await self.keys.list()

    async def jwks(self) -> dict[str, Any]:
        """The public keys that verify: the active and the passive ones."""
        return {"keys": [json.loads(key.public_jwk) for key in await self.keys.published()]}
