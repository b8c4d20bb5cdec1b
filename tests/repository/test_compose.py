"""compose.yaml: valid against the Compose Specification, and its references hold."""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from booking.settings import BookingSettings
from documents.settings import DocumentsSettings
from gateway.settings import GatewaySettings
from identity.settings import IdentitySettings
from servicekit.settings import Environment, ServiceSettings
from tests.repository.conftest import ROOT, command_help

COMPOSE = ROOT / "compose.yaml"
BIN = Path(sys.executable).parent
APP_SERVICES = {"identity", "booking", "documents", "gateway"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return document


def test_compose_file_matches_the_compose_specification() -> None:
    result = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_every_depends_on_names_a_defined_service(compose: dict[str, Any]) -> None:
    services = compose["services"]
    missing = {
        (name, dependency)
        for name, service in services.items()
        for dependency in service.get("depends_on", {})
        if dependency not in services
    }

    assert not missing


def test_every_named_volume_is_declared(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes", {}))
    used = {
        volume.split(":", 1)[0]
        for service in compose["services"].values()
        for volume in service.get("volumes", [])
        if not volume.startswith((".", "/"))
    }

    assert used <= declared


def test_each_application_service_runs_as_its_own_container(compose: dict[str, Any]) -> None:
    built = {
        name: service["build"]["args"]["SERVICE"]
        for name, service in compose["services"].items()
        if "build" in service
    }

    assert APP_SERVICES <= set(built)
    assert all(built[name] == name for name in APP_SERVICES)
    assert all(arg in APP_SERVICES for arg in built.values())
    for name in APP_SERVICES:
        assert "healthcheck" in compose["services"][name]


def test_each_service_reads_its_own_database_from_env(compose: dict[str, Any]) -> None:
    for name in ("identity", "booking", "documents"):
        for container in (name, f"{name}-migrate"):
            environment = compose["services"][container]["environment"]
            url = environment[f"{name.upper()}_DATABASE_URL"]
            # Its own role, which no other service's can connect as (init-databases.sh).
            assert url.startswith(f"postgresql+asyncpg://{name}:${{{name.upper()}_DB_PASSWORD}}@")
            assert url.endswith(f"/{name}")
    initdb = compose["services"]["postgres"]["volumes"]
    assert "./deploy/postgres/init-databases.sh:/docker-entrypoint-initdb.d/10-databases.sh:ro" in (
        initdb
    )


def test_each_job_runs_a_maintenance_command_with_its_services_environment(
    compose: dict[str, Any],
) -> None:
    jobs = {
        name: service
        for name, service in compose["services"].items()
        if service.get("healthcheck") == {"disable": True}
    }

    assert set(jobs) == {"booking-erase", "booking-kpi-days", "documents-purge", "documents-rescan"}
    for name, job in jobs.items():
        service = job["build"]["args"]["SERVICE"]
        command, every, seconds = job["command"]
        assert name == f"{service}-{command}"
        assert every == "--every"
        assert float(seconds) > 0
        assert job["environment"] == compose["services"][service]["environment"]
        assert job["restart"] == "unless-stopped"
        status, output = command_help(service, *job["command"])
        assert status == 0, output


def test_dockerfile_runs_as_non_root() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")

    assert "\nUSER 10001\n" in dockerfile


def test_the_schema_check_rejects_an_invalid_compose_file(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yaml"
    broken.write_text("services:\n  web:\n    image: x\n    replicas_typo: 3\n")

    result = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(broken)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode != 0


def _interpolate(value: str, secrets: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(3)
        return secrets.get(name, default or "")

    return re.sub(r"\$\{([A-Z_]+)(:?[-?]([^}]*))?\}", replace, value)


def test_the_services_believe_forwarded_addresses_from_the_gateway_only(
    compose: dict[str, Any],
) -> None:
    gateway = compose["services"]["gateway"]["networks"]["default"]["ipv4_address"]
    subnet = compose["networks"]["default"]["ipam"]["config"][0]["subnet"]
    assert ipaddress.ip_address(gateway) in ipaddress.ip_network(subnet)
    for name in ("identity", "booking", "documents"):
        environment = compose["services"][name]["environment"]
        assert environment[f"{name.upper()}_TRUSTED_PROXIES"] == f'["{gateway}/32"]'


@pytest.mark.parametrize(
    ("container", "settings_class"),
    [
        ("identity", IdentitySettings),
        ("booking", BookingSettings),
        ("documents", DocumentsSettings),
        ("gateway", GatewaySettings),
    ],
)
def test_each_service_starts_with_production_settings_from_compose(
    compose: dict[str, Any],
    container: str,
    settings_class: type[ServiceSettings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The production refusal of insecure defaults must not stop the compose deployment.
    key = base64.urlsafe_b64encode(bytes(range(32))).decode()
    secrets = {
        "POSTGRES_PASSWORD": "pw",
        "IDENTITY_KEY_ENCRYPTION_KEY": key,
        "DOCUMENTS_KEK": key,
        "EVENTS_SECRET_IDENTITY_BOOKING": "i" * 40,
        "EVENTS_SECRET_BOOKING_DOCUMENTS": "b" * 40,
        "EVENTS_SECRET_DOCUMENTS_BOOKING": "d" * 40,
        "SMTP_HOST": "smtp.musterstadt.example",
        "MAIL_FROM_ADDRESS": "termine@musterstadt.example",
        "BOOKING_MANAGE_LINK_SECRET": "m" * 40,
        "BOOKING_PARTNER_SECRETS_KEY": "p" * 40,
        "BOOKING_BOTCHECK_SECRET": "c" * 40,
        "IDENTITY_BOTCHECK_SECRET": "d" * 40,
        "TURN_SECRET": "t" * 40,
        "TURN_HOST": "turn.musterstadt.example",
    }
    environment = compose["services"][container]["environment"]
    for name, value in environment.items():
        monkeypatch.setenv(name, _interpolate(str(value), secrets))

    settings = settings_class()

    assert settings.environment is Environment.PRODUCTION
    assert settings.insecure_settings() == []
    # Each publisher's subscribers hold the very secret their receiver checks with.
    secrets_of = {s.name: s.secret.get_secret_value() for s in settings.events_subscribers}
    assert (
        secrets_of
        == {
            "identity": {"booking": "i" * 40},
            "booking": {"documents": "b" * 40},
            "documents": {"booking": "d" * 40},
            "gateway": {},
        }[container]
    )
    trusted = {source: s.get_secret_value() for source, s in settings.events_secrets.items()}
    assert (
        trusted
        == {
            "identity": {},
            "booking": {"identity": "i" * 40, "documents": "d" * 40},
            "documents": {"booking": "b" * 40},
            "gateway": {},
        }[container]
    )


def test_coturn_shares_its_secret_with_documents_and_speaks_tls_on_443(
    compose: dict[str, Any],
) -> None:
    coturn = compose["services"]["coturn"]
    flags = coturn["command"]
    documents = compose["services"]["documents"]["environment"]
    # The TURN REST scheme with the one secret documents derives the credentials from.
    assert "--use-auth-secret" in flags
    assert "--static-auth-secret=${TURN_SECRET:?set TURN_SECRET}" in flags
    assert documents["DOCUMENTS_TURN_SECRET"] == "${TURN_SECRET:?set TURN_SECRET}"
    # TURN over TLS on 443, and the URLs documents hands out name it.
    assert "--tls-listening-port=5349" in flags
    assert "443:5349/tcp" in coturn["ports"]
    assert any(
        url.startswith("turns:") and ":443" in url
        for url in json.loads(_interpolate(documents["DOCUMENTS_TURN_URLS"], {"TURN_HOST": "h"}))
    )
    # It never relays into compose's own network (where the services listen).
    subnet = compose["networks"]["default"]["ipam"]["config"][0]["subnet"]
    network = ipaddress.ip_network(subnet)
    assert f"--denied-peer-ip={network[0]}-{network[-1]}" in flags
    # Several documents replicas meet through Redis.
    assert documents["DOCUMENTS_CALL_REDIS_URL"].startswith("redis://redis:")


def _clamd_conf(path: Path) -> dict[str, str]:
    """clamd.conf's options (name: value), comments left out."""
    options: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.strip().partition(" ")
            options[name] = value.strip()
    return options


def _bytes(size: str) -> int:
    units = {"K": 1024, "M": 1024**2, "G": 1024**3}
    return int(size[:-1]) * units[size[-1]] if size[-1] in units else int(size)


CLAMD_CONF = ROOT / "deploy" / "clamav" / "clamd.conf"


def test_documents_scans_with_the_clamd_beside_it(compose: dict[str, Any]) -> None:
    services = compose["services"]
    environment = services["documents"]["environment"]
    clamd = services[environment["DOCUMENTS_CLAMD_HOST"]]
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in clamd["volumes"]}
    conf = _clamd_conf(CLAMD_CONF)

    assert clamd["image"].startswith("clamav/clamav:")
    assert mounts["/etc/clamav/clamd.conf"] == "./deploy/clamav/clamd.conf"
    assert mounts["/etc/clamav/freshclam.conf"] == "./deploy/clamav/freshclam.conf"
    assert int(environment["DOCUMENTS_CLAMD_PORT"]) == int(conf["TCPSocket"])
    assert "DOCUMENTS_CLAMD_SOCKET" not in environment
    assert services["documents"]["depends_on"]["clamd"] == {"condition": "service_started"}
    assert "clamdscan" in clamd["healthcheck"]["test"]
    # The rescan job asks the same clamd (and shares documents' settings).
    assert services["documents-rescan"]["environment"] == environment
    # Every upload the service takes fits in what clamd reads (else 413 too-large-to-scan).
    limit = int(environment.get("DOCUMENTS_MAX_UPLOAD_BYTES", DocumentsSettings().max_upload_bytes))
    assert _bytes(conf["StreamMaxLength"]) >= limit
    assert _bytes(conf["MaxFileSize"]) >= _bytes(conf["StreamMaxLength"])


def test_only_documents_reaches_clamd(compose: dict[str, Any]) -> None:
    services = compose["services"]
    networks = compose["networks"]

    def members(network: str) -> set[str]:
        return {
            name
            for name, service in services.items()
            if network in service.get("networks", ["default"])
        }

    clamd_networks = set(services["clamd"]["networks"])
    inward = {n for n in clamd_networks if networks[n].get("internal")}

    assert "default" not in clamd_networks
    assert "ports" not in services["clamd"]
    assert "expose" not in services["clamd"]
    assert inward == {"scanning"}
    assert members("scanning") == {"clamd", "documents", "documents-rescan"}
    # Its other network is its way out (freshclam), shared with nobody.
    for network in clamd_networks - inward:
        assert members(network) == {"clamd"}
