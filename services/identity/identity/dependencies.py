"""Request-scoped wiring shared by identity's features: settings, audit, keys, the caller's IP.

Dependencies are coroutines even where they do not await: FastAPI runs a plain function in a
worker thread, a trip per dependency and request that costs more than the function.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Request
from sqlalchemy.ext.asyncio import AsyncSession

from identity.audit.repository import AuditRepository
from identity.audit.service import AuditLog
from identity.clock import ClockDep
from identity.db import SessionDep
from identity.keys.cipher import KeyCipher
from identity.keys.repository import SigningKeyRepository
from identity.keys.service import KeyService
from identity.settings import IdentitySettings, key_encryption_key_bytes


async def _settings(request: Request) -> IdentitySettings:
    settings: IdentitySettings = request.app.state.settings
    return settings


SettingsDep = Annotated[IdentitySettings, Depends(_settings)]


async def client_ip(request: Request) -> str | None:
    # The direct peer; uvicorn rewrites it from X-Forwarded-For only for trusted proxies.
    return request.client.host if request.client else None


ClientIpDep = Annotated[str | None, Depends(client_ip)]


async def _audit(session: SessionDep, clock: ClockDep) -> AuditLog:
    return AuditLog(AuditRepository(session), clock)


AuditDep = Annotated[AuditLog, Depends(_audit)]


def make_key_cipher(settings: IdentitySettings) -> KeyCipher:
    return KeyCipher(key_encryption_key_bytes(settings.key_encryption_key))


def key_service(session: AsyncSession, app: FastAPI, audit: AuditLog) -> KeyService:
    """The key service outside a request (seed, command line)."""
    settings: IdentitySettings = app.state.settings
    return KeyService(
        SigningKeyRepository(session),
        app.state.key_cipher,
        audit,
        app.state.clock,
        algorithm=settings.signing_algorithm,
        rsa_bits=settings.rsa_key_bits,
    )


async def _keys(request: Request, session: SessionDep, audit: AuditDep) -> KeyService:
    return key_service(session, request.app, audit)


KeyServiceDep = Annotated[KeyService, Depends(_keys)]
