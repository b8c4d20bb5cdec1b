from __future__ import annotations

import contextlib
import io
import os
import shutil
from importlib.metadata import entry_points
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


def command_help(service: str, *args: str) -> tuple[int, str]:
    """Exit status and output of ``rathaus-<service> <args> --help``, the installed console
    script's own function run in this process: a new process importing a service costs seconds."""
    (script,) = entry_points(group="console_scripts", name=f"rathaus-{service}")
    output = io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        try:
            script.load()([*args, "--help"])
        except SystemExit as exit:
            return int(exit.code or 0), output.getvalue()
    return 0, output.getvalue()
