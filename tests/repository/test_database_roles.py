"""deploy/postgres/init-databases.sh on a real PostgreSQL: each service's role owns its database,
migrates it, and cannot connect to another service's."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from servicekit.testing.postgres import PostgresServer, run_sync
from tests.repository.conftest import ROOT

SCRIPT = ROOT / "deploy" / "postgres" / "init-databases.sh"
SERVICES = ("identity", "booking", "documents")
BIN = Path(sys.executable).parent


@pytest.fixture
def roles(postgres_server: PostgresServer) -> Iterator[tuple[str, dict[str, str]]]:
    """Run the script with a fresh prefix; (prefix, service -> password). Dropped after."""
    if shutil.which("psql") is None:
        pytest.skip("psql is not installed: the script cannot run here")
    prefix = f"roles_{uuid.uuid4().hex[:8]}_"
    passwords = {service: uuid.uuid4().hex for service in SERVICES}
    url = make_url(postgres_server.dsn)
    env = {
        **os.environ,
        "PGHOST": url.host or "127.0.0.1",
        "PGPORT": str(url.port or 5432),
        "PGUSER": url.username or "postgres",
        "RATHAUS_DATABASE_PREFIX": prefix,
        **{f"{service.upper()}_DB_PASSWORD": password for service, password in passwords.items()},
    }
    result = subprocess.run(["sh", str(SCRIPT)], capture_output=True, text=True, env=env)
    try:
        assert result.returncode == 0, result.stderr
        yield prefix, passwords
    finally:
        for service in SERVICES:
            run_sync(_drop(postgres_server.dsn, prefix + service))


async def _drop(dsn: str, name: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'DROP ROLE IF EXISTS "{name}"')
    finally:
        await connection.close()


def _dsn(server: PostgresServer, role: str, password: str, database: str) -> str:
    url = make_url(server.dsn).set(username=role, password=password, database=database)
    return url.render_as_string(hide_password=False)


async def _connect(dsn: str) -> asyncpg.Connection:
    return await asyncpg.connect(dsn, timeout=10)


def test_a_service_cannot_connect_to_another_services_database(
    postgres_server: PostgresServer, roles: tuple[str, dict[str, str]]
) -> None:
    prefix, passwords = roles
    for service in SERVICES:
        for other in SERVICES:
            if other == service:
                continue
            dsn = _dsn(postgres_server, prefix + service, passwords[service], prefix + other)
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                run_sync(_connect(dsn))


def test_each_service_migrates_its_own_database_as_its_own_role(
    postgres_server: PostgresServer, roles: tuple[str, dict[str, str]]
) -> None:
    prefix, passwords = roles
    for service in SERVICES:
        url = make_url(
            _dsn(postgres_server, prefix + service, passwords[service], prefix + service)
        ).set(drivername="postgresql+asyncpg")
        result = subprocess.run(
            [str(BIN / f"rathaus-{service}"), "migrate"],
            capture_output=True,
            text=True,
            env={
                **os.environ,
                f"{service.upper()}_DATABASE_URL": url.render_as_string(hide_password=False),
            },
            cwd=ROOT,
        )
        assert result.returncode == 0, result.stderr
