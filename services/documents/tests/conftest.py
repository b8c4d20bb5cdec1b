from __future__ import annotations

import asyncio
import base64
import os
import struct
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from moto.server import ThreadedMotoServer

from documents.main import create_app
from documents.settings import DocumentsSettings
from servicekit.settings import Environment
from servicekit.testing import ServiceUnderTest
from servicekit.testing.live import free_port

TEST_KEK = base64.b64encode(os.urandom(32)).decode()


def settings_for_tests(database_url: str, **overrides: object) -> DocumentsSettings:
    values: dict[str, object] = {
        "environment": Environment.TEST,
        "database_url": database_url,
        "keks": {"test-1": TEST_KEK},
        "active_kek_id": "test-1",
        "encryption_chunk_size": 4096,
        "max_upload_bytes": 256 * 1024,
    }
    values.update(overrides)
    return DocumentsSettings.model_validate(values)


def make_app(database_url: str) -> FastAPI:
    blob_dir = Path(tempfile.mkdtemp(prefix="documents-blobs-"))
    return create_app(settings_for_tests(database_url, blob_dir=blob_dir))


@pytest.fixture(scope="session")
def service_under_test() -> ServiceUnderTest:
    return ServiceUnderTest(
        name="documents", service_dir=Path(__file__).resolve().parents[1], make_app=make_app
    )


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3-compatible server (moto's server mode) on a loopback port."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


class FakeClamd:
    """Speaks clamd's INSTREAM protocol on a loopback port; finds the EICAR string."""

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.port = 0
        self.scans = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        command = await reader.readuntil(b"\0")
        assert command == b"zINSTREAM\0"
        data = bytearray()
        while True:
            (length,) = struct.unpack(">I", await reader.readexactly(4))
            if length == 0:
                break
            data += await reader.readexactly(length)
        self.scans += 1
        found = EICAR in data
        writer.write(b"stream: Eicar-Signature FOUND\0" if found else b"stream: OK\0")
        await writer.drain()
        writer.close()


@pytest.fixture
async def fake_clamd() -> AsyncIterator[FakeClamd]:
    clamd = FakeClamd()
    await clamd.start()
    yield clamd
    await clamd.stop()
