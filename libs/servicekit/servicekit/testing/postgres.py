"""Finding a PostgreSQL server for the tests, in this order:

1. ``RATHAUS_TEST_DATABASE_URL`` (a server URL; the tests create and drop their own databases),
2. a server on 127.0.0.1:5432 (trust auth, user ``postgres``),
3. a throwaway cluster started from installed PostgreSQL binaries (initdb + pg_ctl),
4. none: the PostgreSQL tests are skipped and the run says so loudly.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
from sqlalchemy.engine import make_url

T = TypeVar("T")


def run_in_thread(function: Callable[[], T]) -> T:
    """Run blocking code on a thread of its own: code that starts its own event loop
    (``asyncio.run``, alembic's env) must stay off the thread of the running test loop."""
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(function())
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even while another loop is running."""
    return run_in_thread(lambda: asyncio.run(coro))


@dataclass
class PostgresServer:
    """A reachable server: ``dsn`` is an asyncpg DSN of its maintenance database."""

    dsn: str
    how: str
    _cluster_dir: Path | None = None
    _bin: Path | None = None
    _created: list[str] = field(default_factory=list)

    def sqlalchemy_url(self, database: str) -> str:
        url = make_url(self.dsn).set(drivername="postgresql+asyncpg", database=database)
        return url.render_as_string(hide_password=False)

    def create_database(self, prefix: str, template: str | None = None) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        run_sync(
            self._execute(
                f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
            )
        )
        self._created.append(name)
        return name

    def drop_database(self, name: str) -> None:
        run_sync(self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if name in self._created:
            self._created.remove(name)

    async def _execute(self, sql: str) -> None:
        connection = await asyncpg.connect(self.dsn, timeout=10)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    def close(self) -> None:
        for name in list(reversed(self._created)):
            try:
                self.drop_database(name)
            except Exception:  # a failed clean-up must not hide the test results
                pass
        if self._cluster_dir is not None and self._bin is not None:
            _as_postgres_user(
                [
                    str(self._bin / "pg_ctl"),
                    "-D",
                    str(self._cluster_dir / "data"),
                    "-m",
                    "fast",
                    "stop",
                ]
            )
            shutil.rmtree(self._cluster_dir, ignore_errors=True)


async def _reachable(dsn: str) -> bool:
    try:
        connection = await asyncpg.connect(dsn, timeout=3)
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    await connection.close()
    return True


def _as_postgres_user(command: list[str]) -> subprocess.CompletedProcess[bytes]:
    # initdb refuses to run as root; the Debian packages create a "postgres" user for it.
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    return subprocess.run(command, check=True, capture_output=True, timeout=120)


def _start_throwaway_cluster() -> PostgresServer | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.insert(0, on_path)
    if not candidates:
        return None
    bin_dir = Path(candidates[0]).parent
    cluster = Path(tempfile.mkdtemp(prefix="rathaus-pg-"))
    os.chmod(cluster, 0o777)
    from servicekit.testing.live import free_port

    port = free_port()
    data = cluster / "data"
    _as_postgres_user([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"])
    _as_postgres_user(
        [
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            f"-p {port} -k {cluster} -c listen_addresses=127.0.0.1 -c fsync=off",
            "-w",
            "start",
            "-l",
            str(cluster / "log"),
        ]
    )
    return PostgresServer(
        dsn=f"postgresql://postgres@127.0.0.1:{port}/postgres",
        how=f"throwaway cluster from {bin_dir} on port {port}",
        _cluster_dir=cluster,
        _bin=bin_dir,
    )


def locate_postgres() -> tuple[PostgresServer | None, str]:
    """The server to use, or None with the reason there is none."""
    configured = os.environ.get("RATHAUS_TEST_DATABASE_URL")
    if configured:
        dsn = (
            make_url(configured).set(drivername="postgresql").render_as_string(hide_password=False)
        )
        if run_sync(_reachable(dsn)):
            return PostgresServer(dsn=dsn, how="RATHAUS_TEST_DATABASE_URL"), ""
        return None, "RATHAUS_TEST_DATABASE_URL is set but the server does not answer"
    local = "postgresql://postgres@127.0.0.1:5432/postgres"
    if run_sync(_reachable(local)):
        return PostgresServer(dsn=local, how="server on 127.0.0.1:5432"), ""
    try:
        server = _start_throwaway_cluster()
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"no server on 127.0.0.1:5432 and a throwaway cluster failed to start: {exc}"
    if server is None:
        return None, "no server on 127.0.0.1:5432 and no PostgreSQL binaries (initdb) installed"
    return server, ""
