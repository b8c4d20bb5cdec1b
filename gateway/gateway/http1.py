"""A small keep-alive HTTP/1.1 client for the proxy path, on asyncio protocols and httptools.

Why not httpx here: its connection pool costs more per request than the whole rest of the
gateway (see bench/gateway/README.md). This client does only what a reverse proxy needs:
send one request head and a (possibly streamed) body on a pooled connection, hand back the
response head, then the body chunk by chunk with back-pressure in both directions.

Errors, by what a caller may do about them::

    UpstreamError
    ├── ConnectFailed      nothing was sent: any request may be tried elsewhere
    ├── RequestNotSent     a reused connection died before the upstream saw a byte of response
    │                      (the request may have arrived: only idempotent requests are retried)
    ├── ResponseFailed     the connection broke or the response was malformed
    └── DeadlineExceeded   no response head before the deadline
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import AsyncIterator
from typing import Any, cast

import httptools

# Buffered response bytes above which reading from the upstream pauses until the client
# has taken them: the gateway's memory stays flat whatever the size of a download.
_READ_HIGH_WATER = 256 * 1024
_READ_LOW_WATER = 64 * 1024


class UpstreamError(Exception):
    """The upstream did not produce a usable response."""


class ConnectFailed(UpstreamError):
    pass


class RequestNotSent(UpstreamError):
    pass


class ResponseFailed(UpstreamError):
    pass


class DeadlineExceeded(UpstreamError):
    pass


class Connection(asyncio.Protocol):
    """One TCP connection to an upstream; carries one request at a time."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reused = False
        self.idle_since = 0.0
        self._loop = pool.loop
        self._parser: Any = None
        self._head_only = False
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self._chunks: collections.deque[bytes] = collections.deque()
        self._buffered = 0
        self._reading_paused = False
        self.complete = False
        self._head_done = False
        self._received_any = False
        self._error: UpstreamError | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._drain_waiter: asyncio.Future[None] | None = None
        self._writing_paused = False
        self._timer: asyncio.TimerHandle | None = None
        self._keep_alive = False
        self.content_length: int | None = None

    # asyncio.Protocol ----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._received_any = True
        if self._parser is None:
            # Bytes nobody asked for: the connection is no longer trustworthy.
            self._fail(ResponseFailed("unsolicited data from upstream"))
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ResponseFailed(f"malformed response: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.forget(self)
        if self._parser is not None and not self.complete:
            if self._head_done and not self._has_length():
                # A body delimited by the end of the connection ends here.
                self.on_message_complete()
            elif not self._received_any and self.reused:
                self._fail(RequestNotSent("reused connection closed"))
            else:
                self._fail(ResponseFailed("connection closed by upstream"))
        self._wake_drain()

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._wake_drain()

    # httptools callbacks ---------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"content-length":
            self.content_length = int(value) if value.isdigit() else None
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self._parser.get_status_code()
        if 100 <= self.status < 200:
            # An interim response (we never ask for one): wait for the final head.
            self.headers = []
            return
        self._head_done = True
        # Asked here: after the message is complete the parser no longer knows.
        self._keep_alive = self._parser.should_keep_alive()
        if self._head_only:
            self.complete = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        if self.complete:
            return
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > _READ_HIGH_WATER and not self._reading_paused:
            self._reading_paused = True
            assert self.transport is not None
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if not self._head_done:
            return  # the end of an interim (1xx) response
        self.complete = True
        self._cancel_timer()
        self._wake()

    # internals -----------------------------------------------------------------------
    def _has_length(self) -> bool:
        for name, value in self.headers:
            if name == b"content-length" or (name == b"transfer-encoding" and b"chunked" in value):
                return True
        return False

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _wake_drain(self) -> None:
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, error: UpstreamError) -> None:
        if self._error is None:
            self._error = error
        self._cancel_timer()
        self._wake()
        self._wake_drain()
        self.close()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _deadline_passed(self) -> None:
        self._timer = None
        if not self.complete:
            self._fail(DeadlineExceeded("no complete response before the deadline"))

    async def _wait(self) -> None:
        self._waiter = self._loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    # the caller's side -------------------------------------------------------------------
    @property
    def head_received(self) -> bool:
        return self._head_done

    def arm_deadline(self, deadline: float) -> None:
        """Fail with DeadlineExceeded unless what is awaited next is here by ``deadline``."""
        self._cancel_timer()
        if not self.complete:
            self._timer = self._loop.call_at(deadline, self._deadline_passed)

    def disarm_deadline(self) -> None:
        self._cancel_timer()

    def start(self, head: bytes, *, head_only: bool) -> None:
        """Send the request head (and nothing else yet); the response is parsed from now on."""
        self._parser = httptools.HttpResponseParser(self)
        self._head_only = head_only
        self.status = 0
        self.headers = []
        self.content_length = None
        self.complete = False
        self._head_done = False
        self._received_any = False
        self._keep_alive = False
        self._error = None
        assert self.transport is not None
        self.transport.write(head)

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    async def drain(self, stall_timeout_s: float) -> None:
        """Wait until the upstream takes more of the body; it may stall at most that long."""
        if self._error is not None:
            raise self._error
        if self.closed:
            raise ResponseFailed("connection closed while sending the body")
        if self._writing_paused:
            self._drain_waiter = self._loop.create_future()
            try:
                await asyncio.wait_for(self._drain_waiter, stall_timeout_s)
            except TimeoutError:
                self._fail(DeadlineExceeded("the upstream stopped taking the request body"))
            finally:
                self._drain_waiter = None
            if self._error is not None:
                raise self._error

    async def response_head(self) -> None:
        """Wait for the status line and headers (``self.status``, ``self.headers``)."""
        while not self._head_done:
            if self._error is not None:
                raise self._error
            await self._wait()
        if self._error is not None and not self.complete:
            raise self._error

    async def until_complete(self) -> None:
        """Wait for the whole response (only for bodies known to be small)."""
        while not self.complete:
            if self._error is not None:
                raise self._error
            await self._wait()

    def take_buffered(self) -> bytes:
        """The body bytes already received, at once (the whole body when ``complete``)."""
        if not self._chunks:
            return b""
        data = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
        self._chunks.clear()
        self._buffered = 0
        self._resume_reading()
        return data

    async def body(self) -> AsyncIterator[bytes]:
        """The rest of the body, chunk by chunk as it arrives."""
        while True:
            if self._chunks:
                chunk = self._chunks.popleft()
                self._buffered -= len(chunk)
                if self._buffered < _READ_LOW_WATER:
                    self._resume_reading()
                yield chunk
                continue
            if self.complete:
                return
            if self._error is not None:
                raise self._error
            await self._wait()

    def _resume_reading(self) -> None:
        if self._reading_paused and self.transport is not None and not self.closed:
            self._reading_paused = False
            self.transport.resume_reading()

    def keep_alive(self) -> bool:
        return self.complete and not self.closed and self._error is None and self._keep_alive

    def finish(self) -> None:
        """Hand the connection back to the pool when it can carry another request."""
        self._cancel_timer()
        if self._parser is None:
            return  # finished already
        if self.keep_alive() and not self._chunks:
            self._parser = None
            self.reused = True
            self.pool.release(self)
        else:
            self.close()

    def close(self) -> None:
        self._cancel_timer()
        if self.transport is not None and not self.closed:
            self.closed = True
            if self.complete and self.transport.get_write_buffer_size() == 0:
                self.transport.close()
            else:
                # A graceful close would wait for an upstream that may never read again.
                self.transport.abort()
        self.pool.forget(self)


class Pool:
    """Keep-alive connections to one upstream address, newest first."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        loop: asyncio.AbstractEventLoop,
        connect_timeout_s: float,
        max_idle: int = 512,
        idle_timeout_s: float = 4.0,
    ) -> None:
        self.host = host
        self.port = port
        self.loop = loop
        self.connect_timeout_s = connect_timeout_s
        self.max_idle = max_idle
        # Below uvicorn's default keep-alive timeout (5 s), so that we give up an idle
        # connection before the upstream closes it under a request on its way.
        self.idle_timeout_s = idle_timeout_s
        self._idle: list[Connection] = []

    async def acquire(self) -> Connection:
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()
            if connection.closed:
                continue
            if now - connection.idle_since > self.idle_timeout_s:
                connection.close()
                continue
            return connection
        try:
            _, protocol = await asyncio.wait_for(
                self.loop.create_connection(lambda: Connection(self), self.host, self.port),
                timeout=self.connect_timeout_s,
            )
        except (OSError, TimeoutError) as exc:
            raise ConnectFailed(f"cannot connect to {self.host}:{self.port}: {exc}") from None
        return protocol

    def release(self, connection: Connection) -> None:
        if len(self._idle) >= self.max_idle:
            connection.close()
            return
        connection.idle_since = time.monotonic()
        self._idle.append(connection)

    def forget(self, connection: Connection) -> None:
        # Idle connections are few compared with requests; a closed one is also skipped
        # lazily in acquire(), so this only keeps the list from growing with dead ones.
        if connection.closed and self._idle and connection in self._idle:
            self._idle.remove(connection)

    def close(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()
