"""The frontend's API types are generated from the contracts: the committed file is current."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from servicekit.testing.system import require_program

WEB = Path(__file__).resolve().parents[2] / "web"


def test_generated_api_types_match_the_merged_contract() -> None:
    node = require_program("node", package="nodejs")
    if not (WEB / "node_modules" / "openapi-typescript").is_dir():
        pytest.fail("web/node_modules is missing: run `make install`")
    result = subprocess.run(
        [str(node), "scripts/generate-api.mjs", "--check"],
        cwd=WEB,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr + result.stdout
