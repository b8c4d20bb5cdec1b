from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from servicekit.mail.sink import MailSink


@pytest.fixture
async def sink(tmp_path: Path) -> AsyncIterator[tuple[MailSink, int]]:
    """A real SMTP server on loopback that keeps what it receives, and its port."""
    server = MailSink(tmp_path / "received")
    port = await server.start()
    yield server, port
    await server.stop()
