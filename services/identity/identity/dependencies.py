"""Request-scoped wiring shared by identity's features: settings, audit, keys, the caller's IP."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from identity.audit.repository import AuditRepository
from identity.audit.service import AuditLog
from identity.clock import ClockDep
from identity.db import SessionDep
from identity.keys.cipher import KeyCipher
from identity.keys.repository import SigningKeyRepository
from identity.keys.service import KeyService
from identity.settings import IdentitySettings, key_encryption_key_bytes


def _settings(request: Request) -> IdentitySettings:
    settings: IdentitySettings = request.app.state.settings
    return settings


SettingsDep = Annotated[IdentitySettings, Depends(_settings)]


def client_ip(request: Request) -> str | None:
    # The direct peer; uvicorn rewrites it from X-Forwarded-For only for trusted proxies.
    return request.client.host if request.client else None


ClientIpDep = Annotated[str | None, Depends(client_ip)]


def _audit(session: SessionDep, clock: ClockDep) -> AuditLog:
    return AuditLog(AuditRepository(session), clock)


AuditDep = Annotated[AuditLog, Depends(_audit)]


def _key_cipher(request: Request) -> KeyCipher:
    cipher: KeyCipher = request.app.state.key_cipher
    return cipher


def make_key_cipher(settings: IdentitySettings) -> KeyCipher:
    return KeyCipher(key_encryption_key_bytes(settings.key_encryption_key))


def _keys(
    session: SessionDep,
    settings: SettingsDep,
    audit: AuditDep,
    clock: ClockDep,
    cipher: Annotated[KeyCipher, Depends(_key_cipher)],
) -> KeyService:
    return KeyService(
        SigningKeyRepository(session),
        cipher,
        audit,
        clock,
        algorithm=settings.signing_algorithm,
        rsa_bits=settings.rsa_key_bits,
    )


KeyServiceDep = Annotated[KeyService, Depends(_keys)]
