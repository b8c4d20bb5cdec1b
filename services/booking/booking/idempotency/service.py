"""``Idempotency-Key`` for holds and confirmations, on the kit's store (``servicekit.idempotency``).

The key is registered in a short transaction of its own before the work starts, so a
concurrent duplicate sees it at once and gets 409 instead of queueing behind the first; the
response is stored in the request's own transaction, so it exists exactly when the work was
committed. A failed request forgets its key, so the client may retry it. Keys are scoped per
caller (an account; a manage link's holder; an anonymous caller by its client address, so a
stranger sending the same key and body gets a request of its own, never the first caller's
answer) and bound to the request (method, path and body): the same key with another body is 422.

A stored response may carry a secret (a hold's manage token, which the booking itself keeps
only as a hash). Such fields are sealed with a keystream derived from the Idempotency-Key,
and the key is stored only as a hash, so the table alone reveals neither.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta

from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from booking.idempotency.models import IdempotencyRecord
from servicekit.auth import Principal
from servicekit.db import Database
from servicekit.idempotency import REPLAY_HEADER, IdempotencyStore, key_hash


def _keystream(key: str, field: str, length: int) -> bytes:
    stream = b""
    counter = 0
    while len(stream) < length:
        stream += hashlib.blake2b(
            f"{field}:{counter}".encode(), key=key.encode()[:64], digest_size=64
        ).digest()
        counter += 1
    return stream[:length]


def seal(key: str, field: str, value: str) -> str:
    data = value.encode()
    sealed = bytes(a ^ b for a, b in zip(data, _keystream(key, field, len(data)), strict=True))
    return base64.urlsafe_b64encode(sealed).decode()


def unseal(key: str, field: str, value: str) -> str:
    data = base64.urlsafe_b64decode(value.encode())
    opened = bytes(a ^ b for a, b in zip(data, _keystream(key, field, len(data)), strict=True))
    return opened.decode(errors="replace")


def fingerprint(method: str, path: str, body: BaseModel) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def caller_key(
    principal: Principal | None, address: str | None, manage_token: str | None = None
) -> str:
    """Whose Idempotency-Keys these are: an account, a manage link's holder, or an anonymous
    caller by its address. Two strangers sending the same key and body from two addresses
    then run two requests: neither sees the other's answer (a hold's manage token), nor can
    one's key block the other's."""
    if principal is not None:
        return f"{principal.tenant}/{principal.subject}"
    if manage_token:
        return "manage/" + hashlib.sha256(manage_token.encode()).hexdigest()[:32]
    return "anonymous/" + hashlib.sha256((address or "-").encode()).hexdigest()[:32]


class Idempotency(IdempotencyStore):
    """The kit's store on booking's table, with the replay of a whole JSON response."""

    def __init__(self, database: Database, *, ttl: timedelta, stale_after: timedelta) -> None:
        super().__init__(database, IdempotencyRecord, ttl=ttl, stale_after=stale_after)

    async def run(
        self,
        *,
        session: AsyncSession,
        caller: str,
        key: str | None,
        method: str,
        path: str,
        request_body: BaseModel,
        status_code: int,
        action: Callable[[], Awaitable[BaseModel]],
        secret_fields: tuple[str, ...] = (),
    ) -> JSONResponse:
        """Run ``action`` once per (caller, key); replay its response for a repeated request.

        ``method``, ``path`` and ``request_body`` bind the key to the request (the body is only
        fingerprinted when a key is given).

        Must be called before the request's session has begun a transaction: on SQLite a
        second connection could otherwise not write.
        """
        if key is None:
            result = await action()
            return JSONResponse(result.model_dump(mode="json"), status_code=status_code)
        stored_key = key_hash(key)
        replay = await self.begin(caller, stored_key, fingerprint(method, path, request_body))
        if replay is not None:
            body = dict(replay.body)
            for name in secret_fields:
                if isinstance(body.get(name), str):
                    body[name] = unseal(key, name, body[name])
            return JSONResponse(
                body, status_code=replay.status_code, headers={REPLAY_HEADER: "true"}
            )
        try:
            result = await action()
            body = result.model_dump(mode="json")
            stored = dict(body)
            for name in secret_fields:
                if isinstance(stored.get(name), str):
                    stored[name] = seal(key, name, stored[name])
            await self.finish(session, caller, stored_key, status_code, stored)
        except Exception:
            # End the request's transaction first: its locks must not block forgetting the key.
            await session.rollback()
            await self.abandon(caller, stored_key)
            raise
        return JSONResponse(body, status_code=status_code)
