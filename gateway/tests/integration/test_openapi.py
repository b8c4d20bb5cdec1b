"""One API document for the whole platform, and its docs UI."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from gateway.main import create_app
from gateway.settings import GatewaySettings
from servicekit.openapi import to_yaml
from servicekit.settings import Environment
from servicekit.testing import LiveServer

StartGateway = Callable[..., LiveServer]
StartUpstream = Callable[[str], Any]

CONTRACTS = Path(__file__).resolve().parents[3] / "contracts"


async def test_openapi_merges_every_service_contract_with_namespaced_components(
    start_gateway: StartGateway, alpha: LiveServer, http: httpx.AsyncClient
) -> None:
    services = {name: [alpha.url] for name in ("identity", "booking", "documents")}
    gateway = start_gateway(services=services, contracts_dir=CONTRACTS)

    document = (await http.get(f"{gateway.url}/openapi.json")).json()

    for service in services:
        contract = yaml.safe_load((CONTRACTS / service / "v1.yaml").read_text())
        routable = {path for path in contract["paths"] if path.startswith(f"/{service}/")}
        assert routable
        assert routable <= set(document["paths"])
        for name in contract.get("components", {}).get("schemas", {}):
            # The kit's problem schemas are one shared gateway.ProblemDetails.
            namespace = "gateway" if name in {"ProblemDetails", "InvalidParam"} else service
            assert f"{namespace}.{name}" in document["components"]["schemas"]
        # The events the service publishes are documented there too.
        assert set(contract.get("webhooks", {})) <= set(document.get("webhooks", {}))
    assert "de.rathaus.identity.account.erased" in document["webhooks"]
    # Identity's discovery and keys at the root, where the gateway routes /.well-known/ to.
    assert {"/.well-known/openid-configuration", "/.well-known/jwks.json"} <= set(document["paths"])
    refs = [part.split('"')[0] for part in json.dumps(document).split('"$ref": "')[1:]]
    assert refs
    assert all(ref.split("/")[-1].split(".")[0] in {*services, "gateway"} for ref in refs)
    assert all(ref.split("/")[-1] in document["components"]["schemas"] for ref in refs)
    # Model names for client generators are unique across services too.
    titles = [schema["title"] for schema in document["components"]["schemas"].values()]
    assert len(titles) == len(set(titles))


async def test_docs_ui_is_served(
    start_gateway: StartGateway, alpha: LiveServer, http: httpx.AsyncClient
) -> None:
    gateway = start_gateway(services={"alpha": [alpha.url]}, contracts_dir=CONTRACTS)

    response = await http.get(f"{gateway.url}/docs")

    assert response.status_code == 200
    assert "/openapi.json" in response.text
    assert "content-security-policy" not in response.headers


def test_merged_document_passes_the_contract_lint(tmp_path: Path) -> None:
    redocly = CONTRACTS.parent / "node_modules" / ".bin" / "redocly"
    if not redocly.exists():
        pytest.skip("node_modules/.bin/redocly is missing: run `make install` (npm ci) first")
    app = create_app(GatewaySettings(environment=Environment.TEST, contracts_dir=CONTRACTS))
    merged = tmp_path / "merged.yaml"
    merged.write_text(to_yaml(app.openapi()), encoding="utf-8")

    result = subprocess.run(
        [str(redocly), "lint", "--config", str(CONTRACTS.parent / "redocly.yaml"), str(merged)],
        capture_output=True,
        text=True,
        env={**os.environ, "REDOCLY_SUPPRESS_NOTIFICATIONS": "true", "REDOCLY_TELEMETRY": "off"},
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
