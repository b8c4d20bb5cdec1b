"""The malware-scanning hook.

A scanner reads the plaintext stream and answers clean or infected. Everything else is an
exception, and none of them makes a document clean (we fail closed; only a clean document is
ever handed out):

``ScannerUnavailable``
    no verdict now (clamd not reachable, timed out, a reply without a verdict): the document
    stays pending and is rescanned later.
``ScanLimitExceeded``
    clamd refuses to read a stream this long (its ``StreamMaxLength``): no verdict, ever. An
    upload is refused (413 ``too-large-to-scan``); a pending document stays pending.

clamd's answers to ``INSTREAM``, as :func:`_parse_reply` reads them::

    stream: OK                              clean
    stream: <signature> FOUND               infected, with the signature's name
    INSTREAM size limit exceeded. ERROR     ScanLimitExceeded
    anything else                           ScannerUnavailable
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from documents.settings import DocumentsSettings


class ScanVerdict(StrEnum):
    CLEAN = "clean"
    INFECTED = "infected"


@dataclass(frozen=True)
class ScanResult:
    verdict: ScanVerdict
    signature: str | None = None


class ScannerUnavailable(Exception):
    """The scanner gave no verdict; the document stays pending."""


class ScanLimitExceeded(Exception):
    """The scanner refuses to read a stream this long (clamd's ``StreamMaxLength``)."""


class Scanner:
    """What every scanner does. A base class, not a protocol, so that :mod:`.dependencies`
    can check that what the app holds is one."""

    async def scan(self, chunks: AsyncIterable[bytes]) -> ScanResult:
        """The verdict on the plaintext ``chunks``; raises :class:`ScannerUnavailable` or
        :class:`ScanLimitExceeded`."""
        raise NotImplementedError

    async def state(self, timeout_s: float) -> str | None:
        """For ``/readyz``: None while the scanner answers (within ``timeout_s``), else what
        is wrong. A scanner that is down does not make the service unready: new documents stay
        pending meanwhile."""
        raise NotImplementedError


class NoScanner(Scanner):
    """No scanner configured (refused in production): every document counts as clean."""

    async def scan(self, chunks: AsyncIterable[bytes]) -> ScanResult:
        # The stream is left unread: reading would decrypt the whole blob for nothing.
        return ScanResult(ScanVerdict.CLEAN)

    async def state(self, timeout_s: float) -> str | None:
        return "not configured: documents are not scanned"


class ClamdScanner(Scanner):
    """clamd's INSTREAM command over TCP or a unix socket."""

    _MAX_CHUNK = 64 * 1024

    def __init__(
        self,
        *,
        host: str | None = None,
        port: int = 3310,
        socket_path: str | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        if host is None and socket_path is None:
            raise ValueError("clamd needs a host or a socket path")
        self.host = host
        self.port = port
        self.socket_path = socket_path
        self.timeout_s = timeout_s

    def __repr__(self) -> str:
        where = self.socket_path or f"{self.host}:{self.port}"
        return f"ClamdScanner({where})"

    async def _connect(self) -> socket.socket:
        loop = asyncio.get_running_loop()
        if self.socket_path is not None:
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address: str | tuple[Any, ...] = self.socket_path
        else:
            assert self.host is not None
            family, kind, proto, _, address = (
                await loop.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
            )[0]
            conn = socket.socket(family, kind, proto)
        conn.setblocking(False)
        try:
            await loop.sock_connect(conn, address)
        except BaseException:
            conn.close()
            raise
        return conn

    async def scan(self, chunks: AsyncIterable[bytes]) -> ScanResult:
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self._scan(chunks)
        except (OSError, TimeoutError) as exc:
            raise ScannerUnavailable(f"clamd did not answer: {exc.__class__.__name__}") from exc

    async def state(self, timeout_s: float) -> str | None:
        try:
            async with asyncio.timeout(timeout_s):
                with await self._connect() as conn:
                    await asyncio.get_running_loop().sock_sendall(conn, b"zPING\0")
                    reply = await _read_reply(conn)
        except (OSError, TimeoutError) as exc:
            return f"unavailable ({exc.__class__.__name__}): new documents stay pending"
        if reply != "PONG":
            return "unavailable (no PONG): new documents stay pending"
        return None

    async def _scan(self, chunks: AsyncIterable[bytes]) -> ScanResult:
        # A plain socket rather than asyncio's streams: clamd answers a stream beyond its
        # StreamMaxLength at once and closes, so our next write fails; its reply is still
        # ours to read then, where a stream transport would have dropped it with the error.
        loop = asyncio.get_running_loop()
        with await self._connect() as conn:
            try:
                await loop.sock_sendall(conn, b"zINSTREAM\0")
                async for chunk in chunks:
                    for start in range(0, len(chunk), self._MAX_CHUNK):
                        piece = chunk[start : start + self._MAX_CHUNK]
                        await loop.sock_sendall(conn, struct.pack(">I", len(piece)) + piece)
                await loop.sock_sendall(conn, struct.pack(">I", 0))
            except ConnectionError:
                pass  # the reply (if any) says why; none: ScannerUnavailable
            return _parse_reply(await _read_reply(conn))


async def _read_reply(conn: socket.socket) -> str:
    """clamd's reply up to its NUL; a connection that ends before it is an OSError."""
    loop = asyncio.get_running_loop()
    reply = bytearray()
    while not reply.endswith(b"\0"):
        data = await loop.sock_recv(conn, 4096)
        if not data:
            raise ConnectionAbortedError("clamd closed the connection without a reply")
        reply += data
        if len(reply) > 64 * 1024:
            raise ConnectionAbortedError("clamd's reply is too long")
    return reply.rstrip(b"\0").decode("utf-8", "replace")


def _parse_reply(reply: str) -> ScanResult:
    if reply.startswith("INSTREAM size limit exceeded"):
        raise ScanLimitExceeded(reply[:100])
    _, _, status = reply.partition(": ")
    if status == "OK":
        return ScanResult(ScanVerdict.CLEAN)
    if status.endswith(" FOUND") and len(status) > len(" FOUND"):
        return ScanResult(ScanVerdict.INFECTED, signature=status[: -len(" FOUND")])
    raise ScannerUnavailable(f"clamd answered without a verdict: {reply[:100]!r}")


def scanner_from(settings: DocumentsSettings) -> Scanner:
    if settings.scans():
        return ClamdScanner(
            host=settings.clamd_host,
            port=settings.clamd_port,
            socket_path=settings.clamd_socket,
            timeout_s=settings.scanner_timeout_s,
        )
    return NoScanner()
