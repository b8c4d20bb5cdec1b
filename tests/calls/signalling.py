"""A signalling client for the tests: the call's WebSocket through the gateway, JSON frames."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.attack.world import World

GUARD_S = 20
"""How long a test waits for a message before it fails (not a measurement)."""


def call_path(booking_id: str) -> str:
    return f"/documents/v1/bookings/{booking_id}/room/call"


def call_url(world: World, booking_id: str) -> str:
    return world.gateway.replace("http://", "ws://", 1) + call_path(booking_id)


class Peer:
    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.seen: list[dict[str, Any]] = []

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(json.dumps({"v": 1, **message}))

    async def expect(self, kind: str, **fields: Any) -> dict[str, Any]:
        """The next message of ``kind`` (with ``fields``); those before it are kept in seen."""

        async def wait() -> dict[str, Any]:
            while True:
                message: dict[str, Any] = json.loads(await self.connection.recv())
                self.seen.append(message)
                if message["type"] == kind and all(message.get(k) == v for k, v in fields.items()):
                    return message

        return await asyncio.wait_for(wait(), GUARD_S)

    async def closed(self) -> tuple[int, str]:
        """Read until the server closes; its code and reason."""

        async def wait() -> None:
            with contextlib.suppress(ConnectionClosed):
                async for raw in self.connection:
                    self.seen.append(json.loads(raw))

        await asyncio.wait_for(wait(), GUARD_S)
        assert self.connection.close_code is not None
        return self.connection.close_code, self.connection.close_reason or ""


@asynccontextmanager
async def joined(
    world: World, booking_id: str, headers: dict[str, str], **options: Any
) -> AsyncIterator[Peer]:
    async with connect(
        call_url(world, booking_id),
        additional_headers=headers,
        open_timeout=GUARD_S,
        **options,
    ) as connection:
        yield Peer(connection)
