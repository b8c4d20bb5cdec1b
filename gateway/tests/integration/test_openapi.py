"""One API document for the whole platform, and its docs UI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml

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
            assert f"{service}.{name}" in document["components"]["schemas"]
    refs = [part.split('"')[0] for part in json.dumps(document).split('"$ref": "')[1:]]
    assert refs
    assert all(ref.split("/")[-1].split(".")[0] in services for ref in refs)
    assert all(ref.split("/")[-1] in document["components"]["schemas"] for ref in refs)


async def test_docs_ui_is_served(
    start_gateway: StartGateway, alpha: LiveServer, http: httpx.AsyncClient
) -> None:
    gateway = start_gateway(services={"alpha": [alpha.url]}, contracts_dir=CONTRACTS)

    response = await http.get(f"{gateway.url}/docs")

    assert response.status_code == 200
    assert "/openapi.json" in response.text
    assert "content-security-policy" not in response.headers
