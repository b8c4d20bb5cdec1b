"""A partner's client generated from our contracts with openapi-python-client, as its docs say.

Each service's contract and the gateway's merged document must generate without a warning
(no model dropped, no response omitted), with one function per operation, and the document
download must come out as bytes (``contracts/openapi-python-client.yaml`` is the generator's
configuration we publish for that).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.openapi import load_contracts, merge
from tests.repository.conftest import CONTRACT_SERVICES, ROOT

BIN = Path(sys.executable).parent
CONFIG = ROOT / "contracts" / "openapi-python-client.yaml"
_METHODS = {"get", "put", "post", "delete", "patch"}


def generate(document: dict[str, Any], tmp_path: Path) -> tuple[Path, str]:
    source = tmp_path / "openapi.json"
    source.write_text(json.dumps(document), encoding="utf-8")
    output = tmp_path / "client"
    result = subprocess.run(
        [
            str(BIN / "openapi-python-client"),
            "generate",
            "--path",
            str(source),
            "--output-path",
            str(output),
            "--meta",
            "none",
            "--config",
            str(CONFIG),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return output, result.stdout + result.stderr


def operations(document: dict[str, Any]) -> list[str]:
    return [
        operation["operationId"]
        for item in document["paths"].values()
        for method, operation in item.items()
        if method in _METHODS
    ]


def generated_functions(client: Path) -> set[str]:
    return {module.stem for module in (client / "api").rglob("*.py") if module.stem != "__init__"}


def snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).replace(".", "_")


@pytest.mark.parametrize("service", CONTRACT_SERVICES)
def test_each_contract_generates_a_complete_client(service: str, tmp_path: Path) -> None:
    document = yaml.safe_load((ROOT / "contracts" / service / "v1.yaml").read_text("utf-8"))

    client, output = generate(document, tmp_path)

    assert "WARNING" not in output, output
    assert "Unable" not in output, output
    assert {snake(name) for name in operations(document)} <= generated_functions(client)


def test_the_gateways_merged_document_generates_a_complete_client(tmp_path: Path) -> None:
    document = merge(
        load_contracts(ROOT / "contracts", list(CONTRACT_SERVICES), "v1"),
        title="Rathaus API",
        version="1",
        description="merged",
    )

    client, output = generate(document, tmp_path)

    assert "WARNING" not in output, output
    assert "Unable" not in output, output
    assert {snake(name) for name in operations(document)} <= generated_functions(client)
    # The document's content comes back as bytes, not decoded as JSON.
    download = client / "api" / "documents" / "documents_download_document.py"
    parse = next(
        node
        for node in ast.walk(ast.parse(download.read_text("utf-8")))
        if isinstance(node, ast.FunctionDef) and node.name == "_parse_response"
    )
    body = ast.unparse(parse)
    assert "File(" in body
    assert "response.content" in body
