"""The backup drill: back up running booking and documents services, restore into fresh
databases and a fresh blob store, and the restored system serves the same bookings and decrypts
the same documents. Backups hold no key: the restore needs the deployment's own.

Both services are real servers on loopback; the backups and restores are their command lines
(``rathaus-<service> backup|restore``), as an operator runs them, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from documents.main import create_app as create_documents_app
from servicekit.testing.live import LiveServer, run_live_server
from servicekit.testing.plugin import DatabaseRegistry
from servicekit.testing.postgres import PostgresServer
from servicekit.testing.tokens import TokenFactory
from tests.documents_booking.files import pdf
from tests.documents_booking.live_booking import (
    Appointment,
    book,
    documents_settings,
    fresh_database,
    local_start,
    set_up_office,
    start_booking_server,
)

BIN = Path(sys.executable).parent
PDF = pdf(6000, marker=b"BACKUP-CANARY")


@dataclass
class Deployment:
    """What a restore needs besides the backup: where to put it and the keys kept apart."""

    booking_url: str
    documents_url: str
    blob_dir: Path
    kek: str


def empty_database(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / f'{uuid.uuid4().hex}.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.sqlalchemy_url(server.create_database("restore"))


def environment(
    deployment: Deployment, booking_server: str = "http://127.0.0.1:9"
) -> dict[str, str]:
    return {
        **os.environ,
        "BOOKING_DATABASE_URL": deployment.booking_url,
        "DOCUMENTS_DATABASE_URL": deployment.documents_url,
        "DOCUMENTS_BLOB_DIR": str(deployment.blob_dir),
        "DOCUMENTS_KEKS": json.dumps({"t": deployment.kek}),
        "DOCUMENTS_ACTIVE_KEK_ID": "t",
        "DOCUMENTS_BOOKING_URL": booking_server,
    }


def command(service: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / f"rathaus-{service}"), *args], capture_output=True, text=True, env=env
    )


def start_documents(tokens: TokenFactory, deployment: Deployment, booking: str) -> LiveServer:
    app = create_documents_app(
        documents_settings(
            deployment.documents_url, deployment.blob_dir, booking, keks={"t": deployment.kek}
        )
    )
    tokens.trust(app)
    return run_live_server(app)


async def hand_in(documents: httpx.AsyncClient, appointment: Appointment) -> str:
    upload = await documents.post(
        appointment.upload_path(0),
        content=PDF,
        headers={**appointment.link, "content-type": "application/pdf"},
        params={"filename": "Lichtbild.pdf"},
    )
    assert upload.status_code == 201, upload.text
    return str(upload.json()["id"])


async def what_is_served(
    booking: httpx.AsyncClient, documents: httpx.AsyncClient, appointments: list[Appointment]
) -> list[tuple[dict[str, object], bytes]]:
    served = []
    for appointment in appointments:
        seen = await booking.get(
            f"/booking/v1/bookings/{appointment.booking_id}", headers=appointment.link
        )
        assert seen.status_code == 200, seen.text
        listed = await documents.get(appointment.documents_path, headers=appointment.link)
        assert listed.status_code == 200, listed.text
        (document,) = [d for item in listed.json()["items"] for d in item["documents"]]
        content = await documents.get(
            f"/documents/v1/documents/{document['id']}/content", headers=appointment.link
        )
        assert content.status_code == 200, content.text
        served.append((seen.json(), content.content))
    return served


async def test_a_running_system_backed_up_and_restored_serves_the_same(
    request: pytest.FixtureRequest,
    tokens: TokenFactory,
    database_registry: DatabaseRegistry,
    db_backend: str,
    tmp_path: Path,
) -> None:
    kek = base64.b64encode(os.urandom(32)).decode()
    original = Deployment(
        booking_url=fresh_database(database_registry, db_backend, "booking"),
        documents_url=fresh_database(database_registry, db_backend, "documents"),
        blob_dir=tmp_path / "blobs",
        kek=kek,
    )
    backups = tmp_path / "backups"
    servers = [start_booking_server(tokens, original.booking_url)]
    try:
        servers.append(start_documents(tokens, original, servers[0].url))
        async with (
            httpx.AsyncClient(base_url=servers[0].url) as booking,
            httpx.AsyncClient(base_url=servers[1].url) as documents,
        ):
            office = await set_up_office(booking, tokens)
            appointments = [
                await book(booking, office, start=local_start(7, 9)),
                await book(booking, office, start=local_start(8, 10)),
            ]
            for appointment in appointments:
                await hand_in(documents, appointment)
            before = await what_is_served(booking, documents, appointments)

            # Taken while both serve.
            env = environment(original, servers[0].url)
            for service in ("booking", "documents"):
                result = command(service, "backup", "--to", str(backups / service), env=env)
                assert result.returncode == 0, result.stderr
                assert result.stdout.startswith(f"backed up {service} at revision ")
    finally:
        for server in reversed(servers):
            server.stop()

    # Ciphertext only: neither the key nor the document's plain bytes are in the backup.
    for path in backups.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert kek.encode() not in data
            assert base64.b64decode(kek) not in data
            assert b"BACKUP-CANARY" not in data, path
    manifest = json.loads((backups / "documents" / "manifest.json").read_text())
    assert manifest["parts"]["blobs"]["blobs"] == 2
    assert manifest["parts"]["blobs"]["key_encryption_keys"] == ["t"]

    restored = Deployment(
        booking_url=empty_database(request, db_backend, tmp_path),
        documents_url=empty_database(request, db_backend, tmp_path),
        blob_dir=tmp_path / "restored-blobs",
        kek=kek,
    )
    env = environment(restored)
    for service in ("booking", "documents"):
        result = command(service, "restore", "--from", str(backups / service), env=env)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"restored {service} at revision ")

    servers = [start_booking_server(tokens, restored.booking_url)]
    try:
        servers.append(start_documents(tokens, restored, servers[0].url))
        async with (
            httpx.AsyncClient(base_url=servers[0].url) as booking,
            httpx.AsyncClient(base_url=servers[1].url) as documents,
        ):
            after = await what_is_served(booking, documents, appointments)
    finally:
        for server in reversed(servers):
            server.stop()

    assert after == before
    assert all(content == PDF for _, content in after)


async def test_a_restore_without_the_key_or_into_a_used_database_writes_nothing(
    request: pytest.FixtureRequest,
    tokens: TokenFactory,
    database_registry: DatabaseRegistry,
    db_backend: str,
    tmp_path: Path,
) -> None:
    original = Deployment(
        booking_url=fresh_database(database_registry, db_backend, "booking"),
        documents_url=fresh_database(database_registry, db_backend, "documents"),
        blob_dir=tmp_path / "blobs",
        kek=base64.b64encode(os.urandom(32)).decode(),
    )
    servers = [start_booking_server(tokens, original.booking_url)]
    try:
        servers.append(start_documents(tokens, original, servers[0].url))
        async with (
            httpx.AsyncClient(base_url=servers[0].url) as booking,
            httpx.AsyncClient(base_url=servers[1].url) as documents,
        ):
            office = await set_up_office(booking, tokens)
            await hand_in(documents, await book(booking, office, start=local_start(7, 11)))
    finally:
        for server in reversed(servers):
            server.stop()
    backup = tmp_path / "backup"
    assert (
        command("documents", "backup", "--to", str(backup), env=environment(original)).returncode
        == 0
    )

    # Another deployment's key: refused before anything is written.
    elsewhere = Deployment(
        booking_url=original.booking_url,
        documents_url=empty_database(request, db_backend, tmp_path),
        blob_dir=tmp_path / "elsewhere",
        kek=base64.b64encode(os.urandom(32)).decode(),
    )
    env = environment(elsewhere)
    env["DOCUMENTS_KEKS"] = json.dumps({"other": elsewhere.kek})
    env["DOCUMENTS_ACTIVE_KEK_ID"] = "other"
    refused = command("documents", "restore", "--from", str(backup), env=env)
    assert refused.returncode == 1
    assert "need the key-encryption keys t, which DOCUMENTS_KEKS does not hold" in refused.stderr
    assert not elsewhere.blob_dir.exists() or not any(elsewhere.blob_dir.iterdir())

    # The database it was taken from is in use: refused.
    used = command("documents", "restore", "--from", str(backup), env=environment(original))
    assert used.returncode == 1
    assert "is not empty" in used.stderr

    # A changed byte in the backup: refused.
    blob = next((backup / "blobs").iterdir())
    blob.write_bytes(blob.read_bytes()[:-1] + b"\0")
    changed = command("documents", "restore", "--from", str(backup), env=environment(elsewhere))
    assert changed.returncode == 1
    assert "missing or changed since the backup" in changed.stderr
