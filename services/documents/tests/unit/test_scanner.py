from __future__ import annotations

from typing import Any

import pytest

from documents.scanning.scanner import ClamdScanner, ScannerUnavailable, ScanVerdict
from servicekit.testing.live import free_port

from ..factories import EICAR, chunks


async def test_clamd_reports_a_clean_stream(fake_clamd: Any) -> None:
    scanner = ClamdScanner(host="127.0.0.1", port=fake_clamd.port)

    result = await scanner.scan(chunks(b"%PDF-1.7 harmless", b" more" * 50_000))

    assert result.verdict is ScanVerdict.CLEAN


async def test_clamd_finds_eicar_split_across_chunks(fake_clamd: Any) -> None:
    scanner = ClamdScanner(host="127.0.0.1", port=fake_clamd.port)

    result = await scanner.scan(chunks(b"%PDF-1.7\n" + EICAR[:20], EICAR[20:]))

    assert result.verdict is ScanVerdict.INFECTED
    assert result.signature == "Eicar-Signature"


async def test_clamd_down_means_unavailable_not_clean() -> None:
    scanner = ClamdScanner(host="127.0.0.1", port=free_port(), timeout_s=2)

    with pytest.raises(ScannerUnavailable):
        await scanner.scan(chunks(b"%PDF-1.7"))
