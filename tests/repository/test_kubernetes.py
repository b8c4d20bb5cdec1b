"""Kubernetes manifests: valid for the API server (strict), probes and non-root everywhere."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.repository.conftest import ROOT, command_help

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
        "coturn",
        "clamd",
    }
    for deployment in deployments:
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod.get("initContainers", []) + pod["containers"]:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
        for container in pod["containers"]:
            assert "livenessProbe" in container
        if deployment["metadata"]["name"] in ("clamd", "coturn"):
            continue  # they speak no HTTP: see their own tests
        for container in pod["containers"]:
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
            assert container["livenessProbe"]["httpGet"]["path"] == "/livez"


def test_the_strict_check_rejects_an_unknown_field(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  portz: []\n")

    assert validate(broken).returncode != 0


def _pod_templates() -> list[tuple[str, dict[str, Any]]]:
    """(kind/name, pod template) of every workload."""
    templates = []
    for doc in documents():
        name = f"{doc['kind']}/{doc['metadata']['name']}"
        if doc["kind"] in {"Deployment", "Job"}:
            templates.append((name, doc["spec"]["template"]))
        elif doc["kind"] == "CronJob":
            templates.append((name, doc["spec"]["jobTemplate"]["spec"]["template"]))
    return templates


def test_a_service_selects_only_its_deployments_pods() -> None:
    # A migration or maintenance pod behind a Service would be sent requests it cannot answer.
    for service in (doc for doc in documents() if doc["kind"] == "Service"):
        selector = service["spec"]["selector"]
        selected = [
            name
            for name, template in _pod_templates()
            if selector.items() <= template["metadata"]["labels"].items()
        ]
        assert selected == [f"Deployment/{service['metadata']['name']}"]


def test_every_cronjob_runs_a_maintenance_command_of_its_service() -> None:
    cronjobs = [doc for doc in documents() if doc["kind"] == "CronJob"]

    assert {doc["metadata"]["name"] for doc in cronjobs} == {
        "booking-erase",
        "booking-kpi-days",
        "documents-purge",
        "documents-rescan",
    }
    for cronjob in cronjobs:
        assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
        pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        (container,) = pod["containers"]
        service = container["image"].split("/")[1].split(":")[0]
        assert {ref.get("secretRef", {}).get("name") for ref in container["envFrom"]} >= {
            f"{service}-secrets"
        }
        # The command exists: its --help answers.
        status, output = command_help(service, *container["args"])
        assert status == 0, output


def _allowed_sources(policy: dict[str, Any]) -> set[str] | None:
    """The app names a policy admits; None: anyone."""
    sources: set[str] = set()
    for rule in policy["spec"].get("ingress", []):
        if not rule.get("from"):
            return None
        for peer in rule["from"]:
            labels = peer.get("podSelector", {}).get("matchLabels", {})
            if "ipBlock" in peer or not labels:
                return None
            sources.add(labels["app.kubernetes.io/name"])
    return sources


def test_only_the_gateway_is_reachable_from_outside() -> None:
    policies = [doc for doc in documents() if doc["kind"] == "NetworkPolicy"]
    default_deny = [p for p in policies if p["spec"]["podSelector"] == {}]
    assert len(default_deny) == 1
    assert default_deny[0]["spec"]["policyTypes"] == ["Ingress"]
    assert "ingress" not in default_deny[0]["spec"]

    admitted = {
        p["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]: _allowed_sources(p)
        for p in policies
        if p["spec"]["podSelector"]
    }

    assert admitted == {
        "gateway": None,
        "identity": {"gateway", "booking", "documents", "prometheus"},
        "booking": {"gateway", "identity", "documents", "prometheus"},
        "documents": {"gateway", "booking", "prometheus"},
        "clamd": {"documents", "documents-rescan"},
    }


def test_the_ingress_example_validates_strictly() -> None:
    example = ROOT / "deploy" / "k8s" / "examples" / "ingress-tls.yaml"
    ingress = yaml.safe_load(example.read_text())

    assert ingress["spec"]["tls"][0]["secretName"] == "rathaus-tls"
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == (
        "gateway"
    )
    result = validate(example)
    assert result.returncode == 0, result.stdout + result.stderr


def _coturn() -> dict[str, Any]:
    (deployment,) = [
        doc
        for doc in documents()
        if doc["kind"] == "Deployment" and doc["metadata"]["name"] == "coturn"
    ]
    return deployment


def test_coturn_shares_its_secret_with_documents_and_speaks_tls_on_443() -> None:
    pod = _coturn()["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    args = container["args"]
    assert "--use-auth-secret" in args
    assert "--static-auth-secret=$(TURN_SECRET)" in args
    secret = next(e for e in container["env"] if e["name"] == "TURN_SECRET")
    assert secret["valueFrom"]["secretKeyRef"] == {"name": "coturn-secrets", "key": "TURN_SECRET"}
    assert "--tls-listening-port=443" in args
    assert {(p["containerPort"], p["protocol"]) for p in container["ports"]} == {
        (3478, "UDP"),
        (3478, "TCP"),
        (443, "TCP"),
    }
    assert container["readinessProbe"]["tcpSocket"]["port"] == 3478
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    # Never a relay into the cluster's or any private network.
    for denied in ("10.0.0.0-10.255.255.255", "172.16.0.0-172.31.255.255"):
        assert f"--denied-peer-ip={denied}" in args
    kustomization = (BASE / "kustomization.yaml").read_text()
    assert "DOCUMENTS_TURN_SECRET" in kustomization
    assert "DOCUMENTS_CALL_REDIS_URL" in kustomization


def _named(kind: str, name: str) -> dict[str, Any]:
    (found,) = [d for d in documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {entry["name"]: entry["value"] for entry in container.get("env", [])}


CLAMAV = ROOT / "deploy" / "clamav"


def test_clamd_runs_beside_documents_with_the_configuration_compose_mounts() -> None:
    config = _named("ConfigMap", "clamd-config")["data"]
    service = _named("Service", "clamd")
    pod = _named("Deployment", "clamd")["spec"]["template"]["spec"]
    containers = {container["name"]: container for container in pod["containers"]}
    tcp_socket = next(
        line.split()[1]
        for line in config["clamd.conf"].splitlines()
        if line.startswith("TCPSocket")
    )

    assert config["clamd.conf"] == (CLAMAV / "clamd.conf").read_text(encoding="utf-8")
    assert config["freshclam.conf"] == (CLAMAV / "freshclam.conf").read_text(encoding="utf-8")
    assert service["spec"]["ports"] == [{"name": "clamd", "port": 3310, "targetPort": "clamd"}]
    assert containers["clamd"]["ports"] == [{"name": "clamd", "containerPort": int(tcp_socket)}]
    assert "--ping" in containers["clamd"]["readinessProbe"]["exec"]["command"]
    assert containers["freshclam"]["command"][:2] == ["freshclam", "--daemon"]
    for container in containers.values():
        assert container["image"].startswith("clamav/clamav:")
        mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
        assert mounts["/etc/clamav"] == "config"
        assert mounts["/var/lib/clamav"] == "signatures"


def test_documents_and_its_jobs_scan_with_that_clamd() -> None:
    service = _named("Service", "clamd")
    (port,) = [p["port"] for p in service["spec"]["ports"]]
    pods = {
        "documents": _named("Deployment", "documents")["spec"]["template"],
        **{
            name: _named("CronJob", name)["spec"]["jobTemplate"]["spec"]["template"]
            for name in ("documents-purge", "documents-rescan")
        },
    }

    for name, template in pods.items():
        (container,) = template["spec"]["containers"]
        env = _env(container)
        # Production (refused without a scanner) is set beside the scanner, never apart.
        assert env["DOCUMENTS_ENVIRONMENT"] == "production", name
        assert env["DOCUMENTS_CLAMD_HOST"] == service["metadata"]["name"], name
        assert int(env["DOCUMENTS_CLAMD_PORT"]) == port, name
        assert "DOCUMENTS_CLAMD_SOCKET" not in env, name
    # The pods that scan are the ones clamd's policy admits, by their labels.
    policy = _named("NetworkPolicy", "clamd-ingress")
    assert _allowed_sources(policy) == {
        pods[name]["metadata"]["labels"]["app.kubernetes.io/name"]
        for name in ("documents", "documents-rescan")
    }
    assert [rule["ports"] for rule in policy["spec"]["ingress"]] == [
        [{"port": port, "protocol": "TCP"}]
    ]
