from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTRACT_SERVICES = ("identity", "booking", "documents")


@pytest.fixture(scope="session")
def redocly() -> list[str]:
    """The redocly command from the project's node_modules (installed by `make install`)."""
    binary = ROOT / "node_modules" / ".bin" / "redocly"
    if not binary.exists():
        pytest.fail("node_modules/.bin/redocly is missing: run `make install` (npm ci) first")
    return [str(binary)]


@pytest.fixture(scope="session")
def tool_env() -> dict[str, str]:
    return {
        **os.environ,
        "REDOCLY_SUPPRESS_NOTIFICATIONS": "true",
        "REDOCLY_TELEMETRY": "off",
        "NO_COLOR": "1",
    }


def git_available() -> bool:
    return shutil.which("git") is not None and (ROOT / ".git").exists()
