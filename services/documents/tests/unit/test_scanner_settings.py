"""Production scans every upload: it refuses to start without clamd."""

from __future__ import annotations

from typing import Any

import pytest

from documents.scanning.scanner import ClamdScanner, NoScanner, scanner_from
from documents.settings import DocumentsSettings
from servicekit.settings import Environment

from ..factories import new_kek

PRODUCTION: dict[str, Any] = {
    "environment": Environment.PRODUCTION,
    "database_url": "postgresql+asyncpg://db/documents",
    "keks": {"2026-11": new_kek()},
    "active_kek_id": "2026-11",
}


def test_production_refuses_to_start_without_a_scanner() -> None:
    with pytest.raises(ValueError, match="no malware scanner configured") as refused:
        DocumentsSettings.model_validate(PRODUCTION)

    assert "DOCUMENTS_CLAMD_HOST" in str(refused.value)
    assert "DOCUMENTS_CLAMD_SOCKET" in str(refused.value)


@pytest.mark.parametrize(
    "scanner", [{"clamd_host": "clamd"}, {"clamd_socket": "/run/clamav/clamd.sock"}]
)
def test_production_starts_with_clamd_over_tcp_or_its_socket(scanner: dict[str, str]) -> None:
    settings = DocumentsSettings.model_validate({**PRODUCTION, **scanner})

    assert settings.scans()
    assert isinstance(scanner_from(settings), ClamdScanner)


def test_clamd_is_either_a_host_or_a_socket() -> None:
    with pytest.raises(ValueError, match="set one of them"):
        DocumentsSettings.model_validate(
            {"clamd_host": "clamd", "clamd_socket": "/run/clamav/clamd.sock"}
        )


@pytest.mark.parametrize("environment", [Environment.DEVELOPMENT, Environment.TEST])
def test_development_and_tests_may_run_without_a_scanner(environment: Environment) -> None:
    settings = DocumentsSettings.model_validate({"environment": environment})

    assert not settings.scans()
    assert isinstance(scanner_from(settings), NoScanner)
