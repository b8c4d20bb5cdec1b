"""schemathesis over every contract, against the running Rathaus, with real tokens of each role.

Each service's published contract (``contracts/<service>/v1.yaml``) is run against that service
directly (behind the gateway's back) and the gateway's merged document (its ``/openapi.json``)
through the gateway, once per role: the citizen, a clerk, the administrator, the partner's
client (client credentials), and a citizen without an account who holds only a booking's manage
link. The checks are what a client generated from the contracts relies on: no 5xx, every answer
conforms to its documented schema, and only documented status codes come back.

Path parameters are the world's real objects (the municipality, the citizen's booking, its
checklist item and document), so requests reach the rules rather than stopping at 404. The run
is reproducible (fixed seed, deterministic generation) and bounded: a few examples per
operation and role, the coverage phase (every boundary of every parameter) once per service as
the administrator, no shrinking, no stateful phase. A failure prints schemathesis's report
with a curl line that reproduces it.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.live_rathaus import TENANT

from .conftest import FAST_IDENTITY, GENEROUS
from .world import World, describe

ROOT = Path(__file__).resolve().parents[2]
ST = Path(sys.executable).parent / "st"
SEED = 20261206
MAX_EXAMPLES = {"service": 3, "gateway": 2}
"""Generated cases per operation and phase: each role against each service, and through the
gateway (which routes to the same operations once more)."""
CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance"
ROLES = ("citizen", "clerk", "admin", "partner", "manage_link")
SERVICES = ("identity", "booking", "documents")
RUNS = [
    # Generated requests, valid and not, as each role, against each service and the gateway.
    *((service, role, "examples,fuzzing") for service in SERVICES for role in ROLES),
    *(("gateway", role, "examples,fuzzing") for role in ROLES),
    # Every boundary of every parameter and field (the most requests): once per service, as
    # the administrator, who reaches the most; last, since it changes the most.
    *((service, "admin", "coverage") for service in SERVICES),
]


@pytest.fixture(scope="module")
def system_overrides() -> dict[str, dict[str, Any]]:
    return {
        "identity": FAST_IDENTITY,
        "gateway": {"route_classes": [GENEROUS], "health_interval_s": 0},
        # A consultation room's live stream would otherwise stay open for 15 minutes.
        "documents": {"room_stream_max_s": 0.5},
    }


def _headers(world: World, role: str) -> dict[str, str]:
    if role == "manage_link":
        return {"X-Manage-Token": world.mine.manage_token}
    return world.headers[role]


def _config(world: World) -> str:
    """schemathesis.toml: path parameters of real objects."""
    mine = world.mine
    values = {
        "path.ags": TENANT,
        "path.office_id": world.offices["mitte"],
        "path.service_id": world.services["mitte"],
        "path.booking_id": mine.booking_id,
        "path.item_id": mine.item_id,
        "path.document_id": mine.document_id,
    }
    lines = [
        # A few unexpected methods per path (405 with Allow) rather than every one.
        "[phases.coverage]",
        'unexpected-methods = ["PATCH"]',
        "generate-duplicate-query-parameters = false",
        "[parameters]",
        *(f'"{key}" = "{value}"' for key, value in values.items()),
    ]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(("contract", "role", "phases"), RUNS)
async def test_every_answer_is_documented_and_no_5xx(
    world: World, contract: str, role: str, phases: str, tmp_path: Path
) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(_config(world), encoding="utf-8")
    if contract == "gateway":
        location, base_url = f"{world.gateway}/openapi.json", world.gateway
    else:
        location = str(ROOT / "contracts" / contract / "v1.yaml")
        base_url = world.system.urls[contract]
    headers = [f"--header={name}: {value}" for name, value in _headers(world, role).items()]
    process = await asyncio.create_subprocess_exec(
        str(ST),
        "--no-color",
        "--config-file",
        str(config),
        "run",
        location,
        f"--url={base_url}",
        *headers,
        f"--checks={CHECKS}",
        f"--max-examples={MAX_EXAMPLES['gateway' if contract == 'gateway' else 'service']}",
        f"--seed={SEED}",
        "--generation-deterministic",
        "--no-shrink",
        f"--phases={phases}",
        "--workers=1",
        "--request-timeout=10",
        "--output-truncate=false",
        # A case's manifest and attachments travel as JWE (application/jose, jose-stream),
        # which schemathesis cannot generate; tests/test_case_handover.py sends them, forged
        # ones too. The clerks' reads of a case share these paths.
        "--exclude-path-regex=/cases/[^/]+(/attachments/[^/]+)?$",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,
        env={**os.environ, "NO_COLOR": "1"},
    )
    output, _ = await process.communicate()
    report = output.decode(errors="replace")
    (tmp_path / "report.txt").write_text(report, encoding="utf-8")

    assert process.returncode == 0, f"schemathesis {contract} as {role}:\n{report[-20000:]}"


def _example_path(path: str) -> str:
    """A path of the contract with values that pass validation (ids nobody has)."""
    values = {"ags": TENANT, "partner_ags": "06999002", "day": "2026-12-24", "kid": "unknown"}
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m[1], str(uuid.uuid4())), path)


def _credentialed(service: str) -> list[tuple[str, str]]:
    """(method, path) of every operation whose contract requires a credential."""
    contract = yaml.safe_load((ROOT / "contracts" / service / "v1.yaml").read_text("utf-8"))
    return [
        (method, path)
        for path, item in contract["paths"].items()
        for method, operation in item.items()
        if method in {"get", "put", "post", "delete", "patch"}
        and operation.get("security")
        and {} not in operation["security"]
    ]


@pytest.mark.parametrize("service", ["identity", "booking", "documents"])
async def test_every_operation_that_requires_a_credential_answers_401_without_one(
    world: World, service: str
) -> None:
    # The contract's security is what a generated client sends; an operation answering 404
    # (or anything else) without a credential tells it something the contract does not say.
    operations = _credentialed(service)
    assert operations
    answers = {}
    async with httpx.AsyncClient(base_url=world.gateway, timeout=30) as http:
        for method, path in operations:
            response = await http.request(method.upper(), _example_path(path), json={})
            if response.status_code != 401 or "www-authenticate" not in response.headers:
                answers[f"{method.upper()} {path}"] = describe(response)
            else:
                assert response.headers["content-type"] == "application/problem+json"

    assert answers == {}
