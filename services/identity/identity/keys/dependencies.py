from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from identity.audit.dependencies import AuditDep
from identity.clock import ClockDep
from identity.keys.cipher import KeyCipher
from identity.keys.repository import SigningKeyRepository
from identity.keys.service import KeyService
from identity.settings import IdentitySettings, SettingsDep, key_encryption_key_bytes
from servicekit.dependencies import SessionDep, app_state


def make_key_cipher(settings: IdentitySettings) -> KeyCipher:
    return KeyCipher(key_encryption_key_bytes(settings.key_encryption_key))


KeyCipherDep = Annotated[KeyCipher, Depends(app_state("key_cipher", KeyCipher))]


async def key_service(
    session: SessionDep,
    settings: SettingsDep,
    cipher: KeyCipherDep,
    audit: AuditDep,
    clock: ClockDep,
) -> KeyService:
    return KeyService(
        SigningKeyRepository(session),
        cipher,
        audit,
        clock,
        algorithm=settings.signing_algorithm,
        rsa_bits=settings.rsa_key_bits,
    )


KeyServiceDep = Annotated[KeyService, Depends(key_service)]
