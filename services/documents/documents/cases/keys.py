"""Our hand-over keys: the RSA-4096 key partners encrypt cases to, and the key that signs our
receipts, each published in our hand-over JWKS (``GET /documents/v1/cases/jwks``).

They live here, in documents, because documents decrypts and signs: the private halves never
leave this service (sealed at rest under the key-encryption key, as the documents' data keys
are). They are kept apart from identity's token signing keys (``use: enc`` / ``use: sig``),
and rotate the way those do: a new active key, the previous one passive (still published,
still decrypting what was encrypted to it in flight), retired by hand
(``rathaus-documents retire-case-keys``) after the partners' JWKS caches have moved on and the
hand-overs in flight have arrived.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import anyio.to_thread

from documents.cases.models import CaseKey, KeyState, KeyUse
from documents.cases.repository import CaseKeyRepository
from documents.crypto.keys import KeyRing, WrappedKey
from servicekit.auth import jose_safe
from servicekit.db import utcnow
from servicekit.problems import Conflict, NotFound

RECEIPT_ALGORITHM = "ES256"


class CaseKeyRotationConflict(Conflict):
    type_slug = "case-key-rotation-conflict"
    title = "Another key rotation happened at the same moment; try again"


class CaseKeyNotFound(NotFound):
    type_slug = "case-key-not-found"
    title = "No such hand-over key"


class CaseKeys:
    def __init__(self, keys: CaseKeyRepository, ring: KeyRing) -> None:
        self.keys = keys
        self.ring = ring

    async def _new(self, use: KeyUse) -> CaseKey:
        # RSA-4096 takes a second or so: off the event loop.
        if use is KeyUse.ENCRYPTION:
            private = await anyio.to_thread.run_sync(jose_safe.generate_encryption_jwk)
        else:
            private = jose_safe.generate_private_jwk(RECEIPT_ALGORITHM)
        kid = private["kid"]
        sealed = self.ring.wrap(json.dumps(private).encode(), f"case-key:{kid}")
        return CaseKey(
            kid=kid,
            use=use,
            state=KeyState.ACTIVE,
            public_jwk=json.dumps(jose_safe.public_jwk(private), sort_keys=True),
            kek_id=sealed.kek_id,
            private_jwk_sealed=sealed.wrapped,
            created_at=utcnow(),
        )

    def _private(self, key: CaseKey) -> dict[str, Any]:
        opened = self.ring.unwrap(
            WrappedKey(key.kek_id, key.private_jwk_sealed), f"case-key:{key.kid}"
        )
        private: dict[str, Any] = json.loads(opened)
        return private

    async def active(self, use: KeyUse) -> CaseKey:
        """The active key of ``use``, made on first use."""
        key = await self.keys.active(use)
        if key is None:
            key = await self._new(use)
            if not await self.keys.add_if_possible(key):
                key = await self.keys.active(use)
                if key is None:
                    raise CaseKeyRotationConflict()
        return key

    async def jwks(self) -> dict[str, Any]:
        """The published keys (active first), each with ``use``, made on first use."""
        await self.active(KeyUse.ENCRYPTION)
        await self.active(KeyUse.SIGNATURE)
        return {"keys": [json.loads(key.public_jwk) for key in await self.keys.published()]}

    async def decryption_keys(self) -> dict[str, dict[str, Any]]:
        """``kid`` to private JWK of every published encryption key."""
        return {
            key.kid: self._private(key)
            for key in await self.keys.published()
            if key.use == KeyUse.ENCRYPTION
        }

    async def receipt_key(self) -> dict[str, Any]:
        return self._private(await self.active(KeyUse.SIGNATURE))

    async def rotate(self, use: KeyUse) -> CaseKey:
        """A new active key of ``use``; the previous one becomes passive."""
        new = await self._new(use)
        previous = await self.keys.active(use)
        if previous is not None:
            previous.state = KeyState.PASSIVE
            await self.keys.flush()
        if not await self.keys.add_if_possible(new):
            raise CaseKeyRotationConflict()
        return new

    async def retire_passive(self) -> list[CaseKey]:
        """Retire every passive key (no longer published, no longer decrypting); the active
        keys stay. Run once partners have moved on to the active key."""
        return [
            await self.retire(key.kid)
            for key in await self.keys.published()
            if key.state == KeyState.PASSIVE
        ]

    async def retire(self, kid: str) -> CaseKey:
        """Retire the passive key ``kid``; the active key of its use refuses (409)."""
        key = await self.keys.get(kid)
        if key is None:
            raise CaseKeyNotFound()
        if key.state == KeyState.ACTIVE:
            raise CaseKeyRotationConflict("Rotate first: the active key cannot retire.")
        key.state, key.retired_at = KeyState.RETIRED, utcnow()
        await self.keys.flush()
        return key

    async def published(self) -> Sequence[CaseKey]:
        return await self.keys.published()
