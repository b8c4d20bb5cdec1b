"""The published contracts: equal to what the code generates, lint clean, never broken within v1."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from servicekit.openapi import operation_id
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
    breaking: list[str] = []
    for commit, blob in _committed_versions(relative):
        if blob == current_blob:
            continue
        old = tmp_path / f"{commit[:12]}.yaml"
        committed = subprocess.run(
            ["git", "cat-file", "blob", blob], capture_output=True, cwd=ROOT, check=True
        ).stdout
        old.write_text(
            yaml.safe_dump(with_readable_operation_ids(yaml.safe_load(committed))),
            encoding="utf-8",
        )
        result = diff(redocly, tool_env, old, current)
        if result.returncode != 0:
            breaking.append(f"against {relative} at {commit[:12]}:\n{result.stdout}")

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
