"""The published contracts: equal to what the code generates, lint clean, never broken within v1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

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
        old.write_bytes(
            subprocess.run(
                ["git", "cat-file", "blob", blob], capture_output=True, cwd=ROOT, check=True
            ).stdout
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
