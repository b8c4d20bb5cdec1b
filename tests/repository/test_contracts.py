"""The published contracts: equal to what the code generates, lint clean, never broken within v1."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from servicekit.auth import MANAGE_TOKEN_HEADER
from servicekit.openapi import operation_id, plain_optional_header
from tests.repository.conftest import CONTRACT_SERVICES, ROOT, git_available

BIN = Path(sys.executable).parent


def generated_contract(service: str) -> str:
    # Exactly what `make contracts` writes, from the service's own command line.
    result = subprocess.run(
        [str(BIN / f"rathaus-{service}"), "openapi"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    return result.stdout


def diff(
    redocly: list[str], env: dict[str, str], old: Path, new: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *redocly,
            "diff",
            "--config",
            str(ROOT / "redocly.yaml"),
            str(old),
            str(new),
            "--fail-on",
            "major",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=False,
    )


@pytest.mark.parametrize("service", CONTRACT_SERVICES)
def test_committed_contract_equals_generated_contract(service: str) -> None:
    committed = (ROOT / "contracts" / service / "v1.yaml").read_text(encoding="utf-8")

    assert generated_contract(service) == committed, (
        f"contracts/{service}/v1.yaml differs from the code: run `make contracts`, review the diff"
    )


def test_contracts_lint_clean(redocly: list[str], tool_env: dict[str, str]) -> None:
    files = [str(ROOT / "contracts" / service / "v1.yaml") for service in CONTRACT_SERVICES]

    result = subprocess.run(
        [*redocly, "lint", "--config", str(ROOT / "redocly.yaml"), *files],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=tool_env,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def _committed_versions(relative: str) -> list[tuple[str, str]]:
    """(commit, blob) of every distinct committed version of a file, oldest first."""
    commits = subprocess.run(
        ["git", "rev-list", "--reverse", "HEAD", "--", relative],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    ).stdout.split()
    seen: set[str] = set()
    versions: list[tuple[str, str]] = []
    for commit in commits:
        blob = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", f"{commit}:{relative}"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        ).stdout.strip()
        if blob and blob not in seen:
            seen.add(blob)
            versions.append((commit, blob))
    return versions


_METHODS = {"get", "put", "post", "delete", "patch"}


def with_readable_operation_ids(document: dict[str, Any]) -> dict[str, Any]:
    """An early contract with FastAPI's default operation ids (``hold_slot_booking_v1_..._post``)
    as if it had the readable ones (``holdSlot``) the contracts carry since: that one rename
    left the wire unchanged and is the only one accepted. An id that is already readable and
    changes is still a major change."""
    for section in ("paths", "webhooks"):
        for path, item in (document.get(section) or {}).items():
            for method, operation in item.items():
                if method not in _METHODS or "operationId" not in operation:
                    continue
                suffix = re.sub(r"\W", "_", path) + f"_{method}"
                old = operation["operationId"]
                if old.endswith(suffix) and len(old) > len(suffix):
                    operation["operationId"] = operation_id(old[: -len(suffix)])
    return document


MANAGE_TOKEN_SCHEME = "manageToken"


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in (document.get("paths") or {}).items()
        for method, operation in item.items()
        if method in _METHODS
    ]


def with_the_same_wire_described_as_now(
    document: dict[str, Any], current: dict[str, Any]
) -> dict[str, Any]:
    """An early contract as the current one describes the same requests: an optional header
    as a plain string (no HTTP message carries a null), and the ``X-Manage-Token`` header
    parameter as the ``manageToken`` apiKey scheme (the same header, an alternative to
    Bearer) wherever the current operation offers that scheme."""
    now = {(method, path): operation for method, path, operation in _operations(current)}
    schemes = current.get("components", {}).get("securitySchemes", {})
    for method, path, operation in _operations(document):
        for parameter in operation.get("parameters", []):
            plain_optional_header(parameter)
        offered = now.get((method, path), {}).get("security", [])
        if {MANAGE_TOKEN_SCHEME: []} not in offered:
            continue
        parameters = operation.get("parameters", [])
        kept = [p for p in parameters if p.get("name") != MANAGE_TOKEN_HEADER]
        if len(kept) < len(parameters):
            operation["parameters"] = kept
            operation["security"] = [*operation.get("security", []), {MANAGE_TOKEN_SCHEME: []}]
            document["components"].setdefault("securitySchemes", {})[MANAGE_TOKEN_SCHEME] = schemes[
                MANAGE_TOKEN_SCHEME
            ]
    return document


PROSE = frozenset({"description", "summary", "example", "examples", "externalDocs"})


def without_prose(node: Any, *, named: bool = False) -> Any:
    """A contract without its descriptions, summaries and examples, which no client's
    compatibility depends on: the compatibility check compares the wire only, and versions that
    changed only their prose are compared once. ``named``: the keys of this mapping are names
    (of properties, schemas, responses), so a field called ``description`` stays."""
    if isinstance(node, list):
        return [without_prose(item) for item in node]
    if not isinstance(node, dict):
        return node
    return {
        key: without_prose(value, named=key in NAMED)
        for key, value in node.items()
        if named or key not in PROSE
    }


NAMED = frozenset(
    {
        "properties",
        "schemas",
        "responses",
        "parameters",
        "headers",
        "securitySchemes",
        "requestBodies",
        "paths",
        "webhooks",
        "content",
        "callbacks",
        "links",
        "mapping",
    }
)


ENFORCED = ROOT / "contracts" / "enforced.yaml"


def _targets(document: dict[str, Any], entry: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The nodes of ``document`` an entry of contracts/enforced.yaml names, by where they are."""
    nodes: dict[str, Any] = {}
    if "schema" in entry:
        name, _, prop = entry["schema"].partition(".")
        schema = document.get("components", {}).get("schemas", {}).get(name)
        nodes[entry["schema"]] = (
            schema.get("properties", {}).get(prop) if prop and schema else schema
        )
    elif "parameter" in entry:
        where, name = entry["parameter"].split(" ", 1)
        for method, path, operation in _operations(document):
            for parameter in operation.get("parameters", []):
                if parameter["in"] == where and parameter["name"].lower() == name.lower():
                    nodes[f"{method} {path}"] = parameter.get("schema")
    else:
        kind = "body" if "body" in entry else "operation"
        method, path = entry[kind].split(" ", 1)
        operation = (document.get("paths") or {}).get(path, {}).get(method.lower(), {})
        node: Any = operation.get("requestBody") if kind == "body" else operation
        for step in entry.get("at", "").split("/") if entry.get("at") else []:
            node = node.get(step.replace("~1", "/").replace("~0", "~")) if node else None
        nodes[entry[kind]] = node
    return {where: node for where, node in nodes.items() if isinstance(node, dict)}


def with_enforced_bounds(
    document: dict[str, Any], current: dict[str, Any], service: str
) -> dict[str, Any]:
    """An early contract with the bounds contracts/enforced.yaml lists taken over from the
    current one: what the server already refused, now said in the schema, breaks no client."""
    entries = yaml.safe_load(ENFORCED.read_text(encoding="utf-8")).get(service) or []
    for entry in entries:
        now = _targets(current, entry)
        for where, old in _targets(document, entry).items():
            new = now.get(where)
            if new is None:
                continue
            for key in entry["keys"]:
                if key in new:
                    old[key] = new[key]
                else:
                    old.pop(key, None)
    return document


@pytest.mark.parametrize("service", CONTRACT_SERVICES)
def test_every_enforced_bound_names_something_in_the_contract(service: str) -> None:
    current = yaml.safe_load((ROOT / "contracts" / service / "v1.yaml").read_text("utf-8"))
    entries = yaml.safe_load(ENFORCED.read_text(encoding="utf-8")).get(service) or []

    for entry in entries:
        assert entry.get("why"), f"{entry} does not say why the server already enforced it"
        nodes = _targets(current, entry)
        assert nodes, f"{entry} names nothing in contracts/{service}/v1.yaml"
        assert any(key in node for node in nodes.values() for key in entry["keys"]), entry


@pytest.mark.parametrize("service", CONTRACT_SERVICES)
def test_contract_stays_compatible_with_every_committed_v1(
    service: str, redocly: list[str], tool_env: dict[str, str], tmp_path: Path
) -> None:
    if not git_available():
        pytest.skip("not a git checkout: no history to compare the contract with")
    relative = f"contracts/{service}/v1.yaml"
    current = ROOT / relative
    current_blob = subprocess.run(
        ["git", "hash-object", str(current)], capture_output=True, text=True, cwd=ROOT, check=True
    ).stdout.strip()
    now = yaml.safe_load(current.read_text(encoding="utf-8"))
    current_wire = tmp_path / "current.yaml"
    current_wire.write_text(yaml.safe_dump(without_prose(now)), encoding="utf-8")
    earlier_versions: dict[str, tuple[str, Path]] = {}
    for commit, blob in _committed_versions(relative):
        if blob == current_blob:
            continue
        committed = subprocess.run(
            ["git", "cat-file", "blob", blob], capture_output=True, cwd=ROOT, check=True
        ).stdout
        earlier = with_readable_operation_ids(yaml.safe_load(committed))
        earlier = with_the_same_wire_described_as_now(earlier, now)
        earlier = with_enforced_bounds(earlier, now, service)
        text = yaml.safe_dump(without_prose(earlier))
        if text in earlier_versions:  # differed from another version in its prose only
            continue
        old = tmp_path / f"{commit[:12]}.yaml"
        old.write_text(text, encoding="utf-8")
        earlier_versions[text] = (commit, old)

    # One redocly process per distinct earlier wire, as many at once as there are processors.
    versions = list(earlier_versions.values())
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = pool.map(
            lambda version: diff(redocly, tool_env, version[1], current_wire), versions
        )
        breaking = [
            f"against {relative} at {commit[:12]}:\n{result.stdout}"
            for (commit, _), result in zip(versions, results, strict=True)
            if result.returncode != 0
        ]

    assert not breaking, (
        "breaking change within v1 (publish a v2 beside it instead):\n" + "\n".join(breaking)
    )


def test_removing_a_response_field_is_detected_as_breaking(
    redocly: list[str], tool_env: dict[str, str], tmp_path: Path
) -> None:
    # The detector itself must catch what the compatibility test relies on.
    original = ROOT / "contracts" / "identity" / "v1.yaml"
    document = yaml.safe_load(original.read_text(encoding="utf-8"))
    tenant = document["components"]["schemas"]["TenantOut"]
    del tenant["properties"]["name"]
    tenant["required"].remove("name")
    changed = tmp_path / "v1.yaml"
    changed.write_text(yaml.safe_dump(document), encoding="utf-8")

    result = diff(redocly, tool_env, original, changed)

    assert result.returncode != 0
    assert "property-removed" in result.stdout


def test_adding_an_optional_response_field_is_compatible(
    redocly: list[str], tool_env: dict[str, str], tmp_path: Path
) -> None:
    original = ROOT / "contracts" / "identity" / "v1.yaml"
    document = yaml.safe_load(original.read_text(encoding="utf-8"))
    document["components"]["schemas"]["TenantOut"]["properties"]["motto"] = {"type": "string"}
    changed = tmp_path / "v1.yaml"
    changed.write_text(yaml.safe_dump(document), encoding="utf-8")

    result = diff(redocly, tool_env, original, changed)

    assert result.returncode == 0, result.stdout


def test_renaming_a_readable_operation_id_is_breaking(
    redocly: list[str], tool_env: dict[str, str], tmp_path: Path
) -> None:
    # Only FastAPI's default ids were renamed once; a readable id is a generated client's
    # function name and stays.
    original = ROOT / "contracts" / "booking" / "v1.yaml"
    document = yaml.safe_load(original.read_text(encoding="utf-8"))
    holds = document["paths"]["/booking/v1/tenants/{ags}/holds"]["post"]
    assert holds["operationId"] == "holdSlot"
    assert with_readable_operation_ids(yaml.safe_load(original.read_text("utf-8"))) == document
    holds["operationId"] = "reserveSlot"
    changed = tmp_path / "v1.yaml"
    changed.write_text(yaml.safe_dump(document), encoding="utf-8")

    result = diff(redocly, tool_env, original, changed)

    assert result.returncode != 0
    assert "operation-id-changed" in result.stdout


def test_fastapi_default_operation_ids_map_to_the_readable_ones() -> None:
    document = {
        "paths": {
            "/booking/v1/tenants/{ags}/holds": {
                "post": {"operationId": "hold_slot_booking_v1_tenants__ags__holds_post"}
            }
        },
        "webhooks": {
            "de.rathaus.booking.booking.confirmed": {
                "post": {
                    "operationId": "booking_confirmedde_rathaus_booking_booking_confirmed_post"
                }
            }
        },
    }

    readable = with_readable_operation_ids(document)

    assert readable["paths"]["/booking/v1/tenants/{ags}/holds"]["post"]["operationId"] == (
        "holdSlot"
    )
    webhook = readable["webhooks"]["de.rathaus.booking.booking.confirmed"]["post"]
    assert webhook["operationId"] == "bookingConfirmed"


@pytest.mark.parametrize("service", CONTRACT_SERVICES)
def test_every_operation_says_what_the_gateway_in_front_may_answer(service: str) -> None:
    document = yaml.safe_load((ROOT / "contracts" / service / "v1.yaml").read_text("utf-8"))

    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            for status in ("429", "502", "503", "504"):
                response = operation["responses"].get(status)
                assert response is not None, f"{method.upper()} {path} lacks {status}"
                assert "application/problem+json" in response["content"]
