"""One socket of a call: what its client says, what it may hear, and when it ends.

The socket runs three tasks until the first ends: the reader (the client's messages, checked
for size, rate and format, see :mod:`documents.calls.protocol`), the writer (everything to the
client goes through one queue, so a slow reader delays nobody else), and the watchdog (the
window's end, the access token's expiry, booking's yes asked again every so often).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel, ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect

from documents.access.checks import Access
from documents.calls.hub import CallHub, Envelope
from documents.calls.protocol import (
    CLIENT_MESSAGE,
    SERVER_MESSAGE,
    AdmitIn,
    AdmittedOut,
    CloseCode,
    EndedOut,
    EndIn,
    ErrorOut,
    PeerOut,
    PeerState,
    SignalIn,
    WelcomeOut,
)
from documents.calls.window import CallWindow
from documents.rooms.models import RoomEventKind

log = logging.getLogger(__name__)

OUTBOX_MAX = 256
"""Messages waiting for a client that reads too slowly; beyond, its socket is closed."""
REASON_MAX_BYTES = 123


@dataclass(frozen=True)
class SessionLimits:
    max_message_bytes: int
    burst: int
    per_s: float
    recheck_s: float


Record = Callable[[Access, RoomEventKind], Awaitable[None]]
"""Writes a room event of the caller's (and wakes the room's streams)."""
Recheck = Callable[[tuple[Access, CallWindow]], Awaitable[tuple[Access, CallWindow] | None]]
"""Booking asked again: the caller's access and the call's window, or None when it is gone."""


@dataclass
class _Close:
    code: int
    reason: str


class _Bucket:
    def __init__(self, burst: int, per_s: float) -> None:
        self.tokens = float(burst)
        self.burst = burst
        self.per_s = per_s
        self.at = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.per_s)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


def _reason(text: str) -> str:
    encoded = text.encode()[:REASON_MAX_BYTES]
    return encoded.decode(errors="ignore")


class CallSession:
    def __init__(
        self,
        websocket: WebSocket,
        access: Access,
        window: CallWindow,
        *,
        hub: CallHub,
        limits: SessionLimits,
        record: Record,
        recheck: Recheck,
    ) -> None:
        self.websocket = websocket
        self.access = access
        self.window = window
        self.hub = hub
        self.limits = limits
        self._record = record
        self._recheck = recheck
        self.id = secrets.token_urlsafe(12)
        self.room = access.booking.booking_id.lower()
        self.role: str = "clerk" if access.is_clerk else "citizen"
        self.state: PeerState = "joined" if access.is_clerk else "waiting"
        self._admitted: set[str] = set()
        """The citizens' sockets a clerk's socket knows to be admitted."""
        self._outbox: asyncio.Queue[str | _Close] = asyncio.Queue()
        self._abort: _Close | None = None
        self._ended = False
        self._bucket = _Bucket(limits.burst, limits.per_s)

    # the socket's life ---------------------------------------------------------------
    async def run(self, subprotocol: str | None) -> None:
        await self.websocket.accept(subprotocol=subprotocol)
        await self.hub.join(self)
        try:
            await self._record(
                self.access,
                RoomEventKind.CALL_JOINED if self.role == "clerk" else RoomEventKind.CALL_WAITING,
            )
            self._send(
                WelcomeOut(
                    peer=self.id,
                    role=self.access.role.value,
                    state=self.state,
                    closes_at=self.window.closes_at,
                )
            )
            await self._publish("presence", state=self.state, hello=True)
            tasks = [
                asyncio.ensure_future(self._read()),
                asyncio.ensure_future(self._write()),
                asyncio.ensure_future(self._watch()),
            ]
            try:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                        await task
        finally:
            await self.hub.leave(self)
            with contextlib.suppress(Exception):
                await self._publish("presence", state="left")
            if not self._ended:
                with contextlib.suppress(Exception):
                    await self._record(self.access, RoomEventKind.CALL_LEFT)

    def _send(self, message: BaseModel) -> None:
        if self._abort is not None:
            return
        if self._outbox.qsize() >= OUTBOX_MAX:
            self._close_at_once(CloseCode.TRY_AGAIN_LATER, "reading too slowly")
            return
        self._outbox.put_nowait(message.model_dump_json(exclude_none=True))

    def _close_after_queue(self, code: int, reason: str) -> None:
        self._outbox.put_nowait(_Close(code, _reason(reason)))

    def _close_at_once(self, code: int, reason: str) -> None:
        if self._abort is None:
            self._abort = _Close(code, _reason(reason))
            self._outbox.put_nowait(self._abort)

    async def _write(self) -> None:
        while True:
            item = await self._outbox.get()
            if self._abort is not None:
                item = self._abort
            if isinstance(item, _Close):
                with contextlib.suppress(Exception):
                    await self.websocket.close(code=item.code, reason=item.reason)
                return
            await self.websocket.send_text(item)

    async def _read(self) -> None:
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                self._close_at_once(CloseCode.MALFORMED, "binary frames are not signalling")
                return
            if len(text) > self.limits.max_message_bytes or (
                len(text.encode()) > self.limits.max_message_bytes
            ):
                self._close_at_once(
                    CloseCode.TOO_BIG,
                    f"a message may have at most {self.limits.max_message_bytes} bytes",
                )
                return
            if not self._bucket.take():
                self._close_at_once(CloseCode.FLOOD, "too many messages")
                return
            try:
                parsed = CLIENT_MESSAGE.validate_json(text)
            except ValidationError as exc:
                self._close_at_once(CloseCode.MALFORMED, _first_error(exc))
                return
            await self._handle(parsed)
            if self._abort is not None:
                return

    async def _watch(self) -> None:
        while True:
            now = time.time()
            ends = self.window.closes_at.timestamp()
            principal = self.access.caller.principal
            expires = principal.expires_at.timestamp() if principal is not None else ends
            wait = min(ends, expires) - now
            if wait <= 0:
                if expires <= ends:
                    self._close_at_once(CloseCode.TOKEN_EXPIRED, "the access token expired")
                else:
                    self._close_at_once(CloseCode.WINDOW_CLOSED, "the call's window is over")
                return
            await asyncio.sleep(min(wait, self.limits.recheck_s))
            if time.time() >= min(ends, expires):
                continue
            fresh = await self._recheck((self.access, self.window))
            if fresh is None:
                self._close_at_once(CloseCode.ACCESS_LOST, "no longer your booking's call")
                return
            self.access, self.window = fresh
            if not self.window.is_open(datetime.now(UTC)):
                self._close_at_once(CloseCode.WINDOW_CLOSED, "the call's window is over")
                return

    # what the client says ------------------------------------------------------------
    async def _handle(self, message: SignalIn | AdmitIn | EndIn) -> None:
        if isinstance(message, AdmitIn | EndIn):
            if self.role != "clerk":
                self._send(ErrorOut(reason="only a clerk admits and ends"))
                return
            if isinstance(message, AdmitIn):
                await self._record(self.access, RoomEventKind.CALL_ADMITTED)
                await self._publish("admit", to=message.peer)
            else:
                await self._record(self.access, RoomEventKind.CALL_ENDED)
                await self._publish("end")
            return
        if self.role == "citizen" and self.state != "admitted":
            self._send(ErrorOut(reason="wait until a clerk admits you"))
            return
        signal = message.model_dump(exclude={"v", "to"}, exclude_none=True)
        await self._publish("signal", to=message.to, signal=signal)

    async def _publish(
        self,
        kind: str,
        *,
        to: str | None = None,
        state: PeerState | None = None,
        hello: bool = False,
        signal: dict[str, object] | None = None,
    ) -> None:
        await self.hub.publish(
            Envelope.model_validate(
                {
                    "room": self.room,
                    "sender": self.id,
                    "role": self.role,
                    "kind": kind,
                    "to": to,
                    "state": state,
                    "hello": hello,
                    "signal": signal,
                }
            )
        )

    # what the others say -------------------------------------------------------------
    async def on_envelope(self, envelope: Envelope) -> None:
        if envelope.to is not None and envelope.to != self.id:
            return
        if envelope.kind == "end":
            self._ended = True
            self._send(EndedOut())
            self._close_after_queue(CloseCode.ENDED, "a clerk ended the call")
            return
        if envelope.sender == self.id:
            return
        if envelope.kind == "presence":
            await self._on_presence(envelope)
        elif envelope.kind == "admit":
            if self.role == "citizen" and self.state == "waiting":
                self.state = "admitted"
                self._send(AdmittedOut())
                await self._publish("presence", state="admitted")
        elif envelope.kind == "signal" and envelope.signal is not None:
            if envelope.role == self.role:
                return
            if self.role == "citizen" and self.state != "admitted":
                return
            if self.role == "clerk" and envelope.sender not in self._admitted:
                return
            self._send(
                SERVER_MESSAGE.validate_python(
                    {**envelope.signal, "v": 1, "peer": envelope.sender, "role": envelope.role}
                )
            )

    async def _on_presence(self, envelope: Envelope) -> None:
        state = envelope.state or "joined"
        if self.role == "clerk" and envelope.role == "citizen":
            if state == "admitted":
                self._admitted.add(envelope.sender)
            else:
                self._admitted.discard(envelope.sender)
        # A citizen sees the clerks, not the other sockets of citizens.
        if self.role == "clerk" or envelope.role == "clerk":
            self._send(PeerOut(peer=envelope.sender, role=envelope.role, state=state))
        if envelope.hello:
            await self._publish("presence", to=envelope.sender, state=self.state)


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error.get("loc", ()))
    text = f"not a signalling message v1: {where}: {error.get('msg', 'invalid')}"
    return _reason(text)
