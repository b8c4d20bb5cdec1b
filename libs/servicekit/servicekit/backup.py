"""``rathaus-<service> backup --to DIR`` and ``restore --from DIR``: a service's whole state.

A backup is one directory: the database (``pg_dump`` in its custom format, or SQLite's online
backup API), whatever the service adds as a :class:`BackupPart` (documents: its encrypted blobs),
and ``manifest.json`` with the migration revision, a SHA-256 of every file and what each part
recorded. It is taken from the running service: the database first (one consistent snapshot),
then the parts, so every row's blob was written before the copy began.

The keys that decrypt what is inside (documents' key-encryption keys, identity's key for its
signing keys, booking's sealing secrets) are never part of a backup: they stay in the
deployment's secrets, kept apart, so that a stolen backup is ciphertext. A part names the keys
its data needs (by id) and the restore refuses, before it writes anything, where this
deployment lacks one. A restore goes into an empty database and store only.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from fastapi import FastAPI
from sqlalchemy import inspect, text
from sqlalchemy.engine import URL, make_url

from servicekit.db import Database

MANIFEST = "manifest.json"
_POSTGRES_DUMP = "database.dump"
_SQLITE_COPY = "database.sqlite"


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why, for an operator."""


class BackupPart(Protocol):
    """What a service keeps beside its database (documents: the blob store)."""

    async def save(self, app: FastAPI, directory: Path) -> dict[str, Any]:
        """Copy the part into ``directory``; what the manifest records of it."""
        ...

    async def check(self, app: FastAPI, recorded: dict[str, Any]) -> None:
        """Raise :class:`BackupError` where this deployment cannot restore it (a missing key)."""
        ...

    async def restore(self, app: FastAPI, directory: Path, recorded: dict[str, Any]) -> str:
        """Copy the part back from ``directory``; a line for the report."""
        ...


@dataclass(frozen=True)
class _Target:
    url: URL

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    def libpq(self) -> tuple[str, dict[str, str]]:
        """A libpq connection string without the password, and the environment that has it."""
        url = self.url.set(drivername="postgresql", password=None, query={})
        env = {**os.environ}
        if self.url.password is not None:
            env["PGPASSWORD"] = str(self.url.password)
        return url.render_as_string(hide_password=False), env

    def sqlite_path(self) -> Path:
        if not self.url.database or self.url.database == ":memory:":
            raise BackupError("an in-memory SQLite database has nothing to back up or restore")
        return Path(self.url.database)


async def back_up(app: FastAPI, service: str, directory: Path, parts: dict[str, BackupPart]) -> str:
    """Back the service up into ``directory`` (new or empty); the report."""
    await asyncio.to_thread(_new_directory, directory)
    database: Database = app.state.database
    target = _Target(make_url(database.url))
    revision = await _revision(database)
    if target.is_sqlite:
        file = _SQLITE_COPY
        await asyncio.to_thread(_sqlite_backup, target.sqlite_path(), directory / file)
    else:
        file = _POSTGRES_DUMP
        conninfo, env = target.libpq()
        _run(
            [
                "pg_dump",
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--file={directory / file}",
                f"--dbname={conninfo}",
            ],
            env,
        )
    recorded = {name: await part.save(app, directory) for name, part in parts.items()}
    manifest = {
        "service": service,
        "created_at": datetime.now(UTC).isoformat(),
        "revision": revision,
        "database": {"file": file},
        "parts": recorded,
    }
    size = await asyncio.to_thread(_write_manifest, directory, manifest)
    described = ", ".join(f"{name}: {_describe(value)}" for name, value in recorded.items())
    return (
        f"backed up {service} at revision {revision} into {directory} "
        f"({size / 1_048_576:.1f} MiB{'; ' + described if described else ''})"
    )


async def restore(app: FastAPI, service: str, directory: Path, parts: dict[str, BackupPart]) -> str:
    """Restore the backup in ``directory`` into this service's empty database and store."""
    manifest = await asyncio.to_thread(_manifest, directory, service)
    database: Database = app.state.database
    target = _Target(make_url(database.url))
    for name, part in parts.items():
        if name not in manifest["parts"]:
            raise BackupError(f"the backup has no {name}: it was not taken by this service")
        await part.check(app, manifest["parts"][name])
    tables = await _tables(database)
    if tables:
        raise BackupError(
            f"the database is not empty ({len(tables)} tables): restore into a fresh one"
        )
    file = directory / manifest["database"]["file"]
    if target.is_sqlite:
        await database.dispose()
        await asyncio.to_thread(_sqlite_backup, file, target.sqlite_path())
    else:
        conninfo, env = target.libpq()
        _run(
            [
                "pg_restore",
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
                f"--dbname={conninfo}",
                str(file),
            ],
            env,
        )
    reports = [
        await part.restore(app, directory, manifest["parts"][name]) for name, part in parts.items()
    ]
    return "; ".join(
        [f"restored {service} at revision {manifest['revision']} from {directory}", *reports]
    )


def _new_directory(directory: Path) -> None:
    if directory.exists() and any(directory.iterdir()):
        raise BackupError(f"{directory} is not empty: a backup goes into a directory of its own")
    directory.mkdir(parents=True, exist_ok=True)


def _write_manifest(directory: Path, manifest: dict[str, Any]) -> int:
    """Write the manifest with a SHA-256 of every file; the backup's size in bytes."""
    files = sorted(path for path in directory.rglob("*") if path.is_file())
    manifest["files"] = {str(path.relative_to(directory)): _sha256(path) for path in files}
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return sum(path.stat().st_size for path in files)


def _manifest(directory: Path, service: str) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{directory} holds no {MANIFEST}: not a Rathaus backup") from None
    except json.JSONDecodeError as exc:
        raise BackupError(f"{directory / MANIFEST} is not JSON: {exc}") from None
    if manifest.get("service") != service:
        raise BackupError(f"this is a backup of {manifest.get('service')!r}, not of {service!r}")
    for name, digest in manifest["files"].items():
        path = directory / name
        if not path.is_file() or _sha256(path) != digest:
            raise BackupError(f"{name} is missing or changed since the backup: not restoring")
    return manifest


async def _revision(database: Database) -> str:
    async with database.engine.connect() as connection:
        row = (await connection.execute(text("SELECT version_num FROM alembic_version"))).first()
    if row is None:
        raise BackupError("the database was never migrated: nothing to back up")
    return str(row[0])


async def _tables(database: Database) -> list[str]:
    async with database.engine.connect() as connection:
        return await connection.run_sync(lambda sync: inspect(sync).get_table_names())


def _sqlite_backup(source: Path, destination: Path) -> None:
    if not source.is_file():
        raise BackupError(f"{source} does not exist")
    destination.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source) as origin, sqlite3.connect(destination) as copy:
        origin.backup(copy)
    origin.close()
    copy.close()


def _run(command: list[str], env: dict[str, str]) -> None:
    if shutil.which(command[0]) is None:
        raise BackupError(f"{command[0]} is not installed (PostgreSQL's client tools)")
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise BackupError(f"{command[0]} failed: {result.stderr.strip()}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _describe(value: dict[str, Any]) -> str:
    return ", ".join(f"{key} {item}" for key, item in value.items())
