"""The clamd client against a real clamd (found, clean, size limit, stopped), and against a
scripted one only for the replies a real clamd does not give (garbled, none, silence)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator

import pytest

from documents.scanning.scanner import (
    ClamdScanner,
    NoScanner,
    ScanLimitExceeded,
    ScannerUnavailable,
    ScanVerdict,
)
from servicekit.testing.live import free_port

from ..clamd import EICAR, SIGNATURE, STREAM_MAX_BYTES, Clamd
from ..factories import chunks, pdf


def over_tcp(clamd: Clamd, timeout_s: float = 10) -> ClamdScanner:
    return ClamdScanner(host="127.0.0.1", port=clamd.port, timeout_s=timeout_s)


async def test_clamd_reports_a_clean_stream(clamd: Clamd) -> None:
    result = await over_tcp(clamd).scan(chunks(pdf(), b" more" * 50_000))

    assert result.verdict is ScanVerdict.CLEAN
    assert result.signature is None


async def test_clamd_finds_eicar_split_across_chunks(clamd: Clamd) -> None:
    result = await over_tcp(clamd).scan(chunks(b"%PDF-1.7\n" + EICAR[:20], EICAR[20:]))

    assert result.verdict is ScanVerdict.INFECTED
    assert result.signature == SIGNATURE


async def test_clamd_finds_eicar_inside_a_pdf_over_its_unix_socket(clamd: Clamd) -> None:
    scanner = ClamdScanner(socket_path=clamd.socket_path, timeout_s=10)

    result = await scanner.scan(chunks(pdf(marker=EICAR)))

    assert result.verdict is ScanVerdict.INFECTED
    assert result.signature == SIGNATURE


async def test_a_stream_beyond_clamds_stream_max_length_gets_no_verdict(clamd: Clamd) -> None:
    too_long = os.urandom(STREAM_MAX_BYTES + 300 * 1024)
    pieces = [too_long[i : i + 100_000] for i in range(0, len(too_long), 100_000)]

    with pytest.raises(ScanLimitExceeded, match="size limit exceeded"):
        await over_tcp(clamd).scan(chunks(*pieces))


async def test_a_stream_just_within_stream_max_length_is_scanned(clamd: Clamd) -> None:
    result = await over_tcp(clamd).scan(chunks(b"\0" * STREAM_MAX_BYTES))

    assert result.verdict is ScanVerdict.CLEAN


async def test_a_stopped_clamd_is_unavailable_not_clean(own_clamd: Clamd) -> None:
    scanner = over_tcp(own_clamd, timeout_s=2)
    before = await scanner.scan(chunks(b"%PDF-1.7"))
    own_clamd.stop()

    with pytest.raises(ScannerUnavailable):
        await scanner.scan(chunks(b"%PDF-1.7"))
    assert before.verdict is ScanVerdict.CLEAN


async def test_clamd_state_for_readiness(own_clamd: Clamd) -> None:
    scanner = over_tcp(own_clamd)
    answering = await scanner.state(timeout_s=2)
    own_clamd.stop()
    stopped = await scanner.state(timeout_s=2)

    assert answering is None
    assert stopped is not None
    assert stopped.startswith("unavailable")


async def test_no_scanner_says_so_for_readiness() -> None:
    assert await NoScanner().state(timeout_s=1) == "not configured: documents are not scanned"


async def test_nobody_listening_is_unavailable() -> None:
    scanner = ClamdScanner(host="127.0.0.1", port=free_port(), timeout_s=2)

    with pytest.raises(ScannerUnavailable):
        await scanner.scan(chunks(b"%PDF-1.7"))


class ScriptedClamd:
    """Reads an INSTREAM request, then answers ``reply`` (None: closes without a word;
    ``hang``: says nothing and keeps the connection open). Only for what a real clamd never
    answers."""

    def __init__(self, reply: bytes | None, *, hang: bool = False) -> None:
        self.reply = reply
        self.hang = hang
        self.release = asyncio.Event()
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\0")
        while (length := int.from_bytes(await reader.readexactly(4), "big")) != 0:
            await reader.readexactly(length)
        if self.hang:
            await self.release.wait()
        if self.reply is not None:
            writer.write(self.reply)
            await writer.drain()
        writer.close()


@contextlib.asynccontextmanager
async def serving(clamd: ScriptedClamd) -> AsyncIterator[asyncio.Server]:
    server = await asyncio.start_server(clamd.handle, "127.0.0.1", 0)
    clamd.port = server.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        clamd.release.set()
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(
    "reply",
    [
        b"stream: \0",
        b"stream: FOUND\0",
        b"stream: Can't allocate memory ERROR\0",
        b"UNKNOWN COMMAND\0",
        b"stream: OK",  # no terminating NUL before the connection ends
        None,
    ],
)
async def test_a_reply_without_a_verdict_is_unavailable_not_clean(reply: bytes | None) -> None:
    clamd = ScriptedClamd(reply)
    async with serving(clamd):
        scanner = ClamdScanner(host="127.0.0.1", port=clamd.port, timeout_s=5)
        with pytest.raises(ScannerUnavailable):
            await scanner.scan(chunks(b"%PDF-1.7"))


async def test_a_clamd_that_never_answers_times_out_as_unavailable() -> None:
    clamd = ScriptedClamd(b"stream: OK\0", hang=True)
    async with serving(clamd):
        scanner = ClamdScanner(host="127.0.0.1", port=clamd.port, timeout_s=0.5)
        with pytest.raises(ScannerUnavailable, match="TimeoutError"):
            await scanner.scan(chunks(b"%PDF-1.7"))
