"""Kubernetes manifests: valid for the API server (strict), probes and non-root everywhere."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.repository.conftest import ROOT

BASE = ROOT / "deploy" / "k8s" / "base"
BIN = Path(sys.executable).parent
MANIFESTS = sorted(path for path in BASE.glob("*.yaml") if path.name != "kustomization.yaml")


def documents() -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = []
    for path in MANIFESTS:
        loaded.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return loaded


def validate(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "kubernetes-validate"), "--strict", "--quiet", *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_manifests_validate_strictly() -> None:
    result = validate(*MANIFESTS)

    assert result.returncode == 0, result.stdout + result.stderr


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())

    assert sorted(kustomization["resources"]) == sorted(path.name for path in MANIFESTS)


def test_rendered_kustomization_validates_strictly(tmp_path: Path) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the manifests were validated one by one")
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(
        subprocess.run(
            [kubectl, "kustomize", str(BASE)], capture_output=True, text=True, check=True
        ).stdout
    )

    result = validate(rendered)

    assert result.returncode == 0, result.stdout + result.stderr


def test_every_deployment_is_probed_and_runs_as_non_root() -> None:
    deployments = [doc for doc in documents() if doc["kind"] == "Deployment"]

    assert {doc["metadata"]["name"] for doc in deployments} == {
        "identity",
        "booking",
        "documents",
        "gateway",
    }
    for deployment in deployments:
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
            assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
            assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_the_strict_check_rejects_an_unknown_field(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  portz: []\n")

    assert validate(broken).returncode != 0
