"""Where a call's sockets meet: the rooms of this process, and the relay between processes.

Every socket of a call (:class:`~documents.calls.session.CallSession`) publishes what it has
to say to the others (its presence, a signal, an admission, the end) as an :class:`Envelope`
on its room's channel, and gets every envelope of its room, its own included; each session
decides for itself what its client may see (a waiting citizen sees no signals).

The relay carries the envelopes: :class:`LocalRelay` within one process (one replica), or
:class:`RedisRelay` through Redis pub/sub (``DOCUMENTS_CALL_REDIS_URL``), so that a citizen on
one replica and a clerk on another meet. Without Redis and with several replicas, the gateway
in front must route a room's sockets to one replica (sticky by path).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from documents.calls.protocol import PeerState, Role

if TYPE_CHECKING:
    from documents.calls.session import CallSession

log = logging.getLogger(__name__)

Deliver = Callable[[str, str], Awaitable[None]]


class Envelope(BaseModel):
    """What one session of a room tells the others."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    room: str
    sender: str
    role: Role
    kind: Literal["presence", "signal", "admit", "end"]
    to: str | None = None
    state: PeerState | None = None
    hello: bool = False
    """A newcomer's presence: everyone answers with their own, to it alone."""
    signal: dict[str, Any] | None = None


class Relay(Protocol):
    async def publish(self, room: str, data: str) -> None: ...
    async def subscribe(self, room: str) -> None: ...
    async def unsubscribe(self, room: str) -> None: ...
    async def close(self) -> None: ...


class LocalRelay:
    """Envelopes stay in this process."""

    def __init__(self, deliver: Deliver) -> None:
        self._deliver = deliver

    async def publish(self, room: str, data: str) -> None:
        await self._deliver(room, data)

    async def subscribe(self, room: str) -> None:
        return None

    async def unsubscribe(self, room: str) -> None:
        return None

    async def close(self) -> None:
        return None


CHANNEL_PREFIX = "rathaus:call:"


class RedisRelay:
    """Envelopes go through Redis pub/sub: a channel per room this process has sockets of."""

    def __init__(self, url: str, deliver: Deliver) -> None:
        from redis.asyncio import Redis

        self._redis: Any = Redis.from_url(url)
        self._pubsub: Any = self._redis.pubsub()
        self._deliver = deliver
        self._reader: asyncio.Task[None] | None = None

    async def publish(self, room: str, data: str) -> None:
        await self._redis.publish(CHANNEL_PREFIX + room, data)

    async def subscribe(self, room: str) -> None:
        await self._pubsub.subscribe(CHANNEL_PREFIX + room)
        if self._reader is None:
            self._reader = asyncio.create_task(self._read())

    async def unsubscribe(self, room: str) -> None:
        await self._pubsub.unsubscribe(CHANNEL_PREFIX + room)

    async def _read(self) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=1.0
                )
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis away: the client reconnects and subscribes again
                log.warning("reading the call relay failed", exc_info=True)
                await asyncio.sleep(1.0)
                continue
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"]
            channel = channel.decode() if isinstance(channel, bytes) else str(channel)
            data = message["data"]
            await self._deliver(
                channel.removeprefix(CHANNEL_PREFIX),
                data.decode() if isinstance(data, bytes) else str(data),
            )

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._pubsub.aclose()
        await self._redis.aclose()


class CallHub:
    """This process's call sockets by room, and the relay they talk through."""

    def __init__(self, *, max_sockets: int = 2000, redis_url: str | None = None) -> None:
        self._rooms: dict[str, set[CallSession]] = {}
        self.max_sockets = max_sockets
        self.relay: Relay = (
            RedisRelay(redis_url, self.deliver) if redis_url else LocalRelay(self.deliver)
        )

    @property
    def sockets(self) -> int:
        return sum(len(sessions) for sessions in self._rooms.values())

    @property
    def full(self) -> bool:
        return self.sockets >= self.max_sockets

    async def join(self, session: CallSession) -> None:
        sessions = self._rooms.setdefault(session.room, set())
        first = not sessions
        sessions.add(session)
        if first:
            await self.relay.subscribe(session.room)

    async def leave(self, session: CallSession) -> None:
        sessions = self._rooms.get(session.room)
        if sessions is None:
            return
        sessions.discard(session)
        if not sessions:
            del self._rooms[session.room]
            await self.relay.unsubscribe(session.room)

    async def publish(self, envelope: Envelope) -> None:
        await self.relay.publish(envelope.room, envelope.model_dump_json())

    async def deliver(self, room: str, data: str) -> None:
        try:
            envelope = Envelope.model_validate_json(data)
        except ValidationError:
            log.warning("an envelope outside the relay's format was dropped")
            return
        if envelope.room != room:
            return
        for session in list(self._rooms.get(room, ())):
            await session.on_envelope(envelope)

    async def close(self) -> None:
        await self.relay.close()
