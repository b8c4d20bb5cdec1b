"""The malware-scanning hook.

A scanner reads the plaintext stream and answers clean or infected. When it cannot answer (not
reachable, timed out, garbled reply) it raises :class:`ScannerUnavailable` and the document stays
pending: we fail closed, and a pending document is never handed out.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterable
from dataclasses import dataclass
from enum import StrEnum

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


class Scanner:
    """What every scanner does. A base class, not a protocol, so that :mod:`.dependencies`
    can check that what the app holds is one."""

    async def scan(self, chunks: AsyncIterable[bytes]) -> ScanResult:
        """The verdict on the plaintext ``chunks``; raises :class:`ScannerUnavailable`."""
        raise NotImplementedError


class NoScanner(Scanner):
    """No scanner configured: every document counts as clean."""

    async def scan(self, chunks: AsyncIterable[bytes]) -> ScanResult:
        # The stream is left unread: reading would decrypt the whole blob for nothing.
        return ScanResult(ScanVerdict.CLEAN)


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

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.socket_path is not None:
            return await asyncio.open_unix_connection(self.socket_path)
        assert self.host is not None
        return await asyncio.open_connection(self.host, self.port)

    async def scan(self, chunks: AsyncIterable[bytes]) -> ScanResult:
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self._scan(chunks)
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            raise ScannerUnavailable(f"clamd did not answer: {exc.__class__.__name__}") from exc

    async def _scan(self, chunks: AsyncIterable[bytes]) -> ScanResult:
        reader, writer = await self._connect()
        try:
            writer.write(b"zINSTREAM\0")
            async for chunk in chunks:
                for start in range(0, len(chunk), self._MAX_CHUNK):
                    piece = chunk[start : start + self._MAX_CHUNK]
                    writer.write(struct.pack(">I", len(piece)) + piece)
                    await writer.drain()
            writer.write(struct.pack(">I", 0))
            await writer.drain()
            reply = (await reader.readuntil(b"\0")).rstrip(b"\0").decode("utf-8", "replace")
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass
        return _parse_reply(reply)


def _parse_reply(reply: str) -> ScanResult:
    # "stream: OK" | "stream: Eicar-Signature FOUND" | "INSTREAM size limit exceeded. ERROR"
    _, _, status = reply.partition(": ")
    if status == "OK":
        return ScanResult(ScanVerdict.CLEAN)
    if status.endswith(" FOUND"):
        return ScanResult(ScanVerdict.INFECTED, signature=status[: -len(" FOUND")])
    raise ScannerUnavailable(f"clamd answered without a verdict: {reply[:100]!r}")


def scanner_from(settings: DocumentsSettings) -> Scanner:
    if settings.clamd_host or settings.clamd_socket:
        return ClamdScanner(
            host=settings.clamd_host,
            port=settings.clamd_port,
            socket_path=settings.clamd_socket,
            timeout_s=settings.scanner_timeout_s,
        )
    return NoScanner()
