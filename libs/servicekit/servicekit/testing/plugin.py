"""The pytest plugin: every database test runs on SQLite and on PostgreSQL.

Per service and backend one database is migrated to head once per run (the template); tests
get a copy of it and run inside a transaction that is rolled back afterwards, so they neither
see nor leave data. Tests that need real commits and real parallelism take ``live_service``:
a fresh copy of the template served by uvicorn on a loopback port.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from servicekit.db import create_engine
from servicekit.migrations import upgrade
from servicekit.testing.live import LiveServer, run_live_server
from servicekit.testing.postgres import PostgresServer, locate_postgres, run_in_thread
from servicekit.testing.service import ServiceUnderTest
from servicekit.testing.system import MISSING, report_missing
from servicekit.testing.tokens import TokenFactory

ALL_BACKENDS = ("sqlite", "postgresql")


def _backends() -> list[str]:
    wanted = os.environ.get("RATHAUS_TEST_BACKENDS")
    if not wanted:
        return list(ALL_BACKENDS)
    chosen = [name.strip() for name in wanted.split(",") if name.strip() in ALL_BACKENDS]
    return chosen or list(ALL_BACKENDS)


@dataclass
class _Postgres:
    located: bool = False
    server: PostgresServer | None = None
    reason: str = ""
    used: bool = False


_POSTGRES = _Postgres()


def _postgres() -> PostgresServer:
    if not _POSTGRES.located:
        _POSTGRES.server, _POSTGRES.reason = locate_postgres()
        _POSTGRES.located = True
    _POSTGRES.used = True
    if _POSTGRES.server is None:
        pytest.skip(f"PostgreSQL unavailable: {_POSTGRES.reason}")
    return _POSTGRES.server


@dataclass
class DatabaseRegistry:
    """Migrated template databases and their working copies, per (service, backend)."""

    tmp_dir: Path
    templates: dict[tuple[str, str], str] = field(default_factory=dict)
    working: dict[tuple[str, str], str] = field(default_factory=dict)
    engines: dict[str, AsyncEngine] = field(default_factory=dict)

    def _template(self, service: ServiceUnderTest, backend: str) -> str:
        key = (service.name, backend)
        if key not in self.templates:
            if backend == "sqlite":
                url = f"sqlite+aiosqlite:///{self.tmp_dir / f'{service.name}-template.db'}"
            else:
                server = _postgres()
                url = server.sqlalchemy_url(server.create_database(f"rathaus_{service.name}_tpl"))
            run_in_thread(lambda: upgrade(service.service_dir, url))
            self.templates[key] = url
        return self.templates[key]

    def fresh_copy(self, service: ServiceUnderTest, backend: str) -> str:
        """A new database at head, for tests that commit."""
        template = self._template(service, backend)
        if backend == "sqlite":
            source = Path(template.split("///", 1)[1])
            target = self.tmp_dir / f"{service.name}-{os.urandom(5).hex()}.db"
            shutil.copyfile(source, target)
            return f"sqlite+aiosqlite:///{target}"
        server = _postgres()
        template_name = template.rsplit("/", 1)[1]
        return server.sqlalchemy_url(
            server.create_database(f"rathaus_{service.name}", template=template_name)
        )

    def working_copy(self, service: ServiceUnderTest, backend: str) -> str:
        key = (service.name, backend)
        if key not in self.working:
            self.working[key] = self.fresh_copy(service, backend)
        return self.working[key]

    def engine(self, url: str) -> AsyncEngine:
        if url not in self.engines:
            self.engines[url] = create_engine(url, pool_size=5)
        return self.engines[url]


@pytest.fixture(scope="session")
async def database_registry(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[DatabaseRegistry]:
    registry = DatabaseRegistry(tmp_dir=tmp_path_factory.mktemp("databases"))
    yield registry
    for engine in registry.engines.values():
        await engine.dispose()


@pytest.fixture(scope="session")
def postgres_server() -> PostgresServer:
    """The run's PostgreSQL server itself, for tests of what runs on it (roles, scripts)."""
    return _postgres()


@pytest.fixture(scope="session", params=_backends())
def db_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    if backend == "postgresql":
        _postgres()
    return backend


@pytest.fixture
def database_url(
    service_under_test: ServiceUnderTest, db_backend: str, database_registry: DatabaseRegistry
) -> str:
    """The URL of this service's migrated test database on the current backend."""
    return database_registry.working_copy(service_under_test, db_backend)


@pytest.fixture
async def connection(
    database_url: str, database_registry: DatabaseRegistry
) -> AsyncIterator[AsyncConnection]:
    """A connection inside a transaction that is rolled back after the test."""
    engine = database_registry.engine(database_url)
    async with engine.connect() as conn:
        transaction = await conn.begin()
        try:
            yield conn
        finally:
            if transaction.is_active:
                await transaction.rollback()


@pytest.fixture
async def session(connection: AsyncConnection) -> AsyncIterator[AsyncSession]:
    """A session for factories; it shares the test's transaction with the app."""
    async with AsyncSession(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    ) as db_session:
        yield db_session


@pytest.fixture(scope="session")
def tokens() -> TokenFactory:
    """Signs real access tokens with the run's own keys; the ``app`` fixture trusts them."""
    return TokenFactory()


@pytest.fixture
async def app(
    service_under_test: ServiceUnderTest,
    database_url: str,
    connection: AsyncConnection,
    tokens: TokenFactory,
) -> AsyncIterator[FastAPI]:
    application = service_under_test.make_app(database_url)
    tokens.trust(application)
    database = application.state.database
    engine = database.engine if database is not None else None
    if database is not None:
        database.bind_to(connection)
    yield application
    if engine is not None:
        await engine.dispose()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
def fresh_database_url(
    service_under_test: ServiceUnderTest, db_backend: str, database_registry: DatabaseRegistry
) -> str:
    """A database of its own at head, for tests whose requests really commit."""
    return database_registry.fresh_copy(service_under_test, db_backend)


@pytest.fixture
def empty_database_url(db_backend: str, database_registry: DatabaseRegistry) -> str:
    """A database with no tables at all (migration tests)."""
    if db_backend == "sqlite":
        return (
            f"sqlite+aiosqlite:///{database_registry.tmp_dir / f'empty-{os.urandom(5).hex()}.db'}"
        )
    server = _postgres()
    return server.sqlalchemy_url(server.create_database("rathaus_empty"))


@pytest.fixture
def live_service(
    service_under_test: ServiceUnderTest, fresh_database_url: str, tokens: TokenFactory
) -> Iterator[LiveServer]:
    """The service under uvicorn on a loopback port, on a fresh database; it trusts ``tokens``."""
    application = service_under_test.make_app(fresh_database_url)
    tokens.trust(application)
    server = run_live_server(application)
    yield server
    server.stop()


@dataclass
class _Seen:
    """What the run's processes found missing: this process's, and with pytest-xdist (``-n``)
    what each worker reported when it finished, so the controller prints one banner."""

    postgres_hows: set[str] = field(default_factory=set)
    postgres_reasons: set[str] = field(default_factory=set)
    missing: dict[str, str] = field(default_factory=dict)

    def add(self, found: dict[str, Any]) -> None:
        self.postgres_hows.update(found["postgres_hows"])
        self.postgres_reasons.update(found["postgres_reasons"])
        self.missing.update(found["missing"])


_SEEN = _Seen()


def _found_here() -> dict[str, Any]:
    located = _POSTGRES.located
    return {
        "postgres_hows": [_POSTGRES.server.how] if located and _POSTGRES.server else [],
        "postgres_reasons": [_POSTGRES.reason] if located and not _POSTGRES.server else [],
        "missing": dict(MISSING),
    }


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """pytest-xdist: a worker finished; keep what it found missing for the banner."""
    found = getattr(node, "workeroutput", {}).get("rathaus_found")
    if found:
        _SEEN.add(found)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    _SEEN.add(_found_here())
    report_missing(terminalreporter, _SEEN.missing)
    if _SEEN.postgres_reasons:
        terminalreporter.write_sep("!", "PostgreSQL TESTS SKIPPED", red=True, bold=True)
        for reason in sorted(_SEEN.postgres_reasons):
            terminalreporter.write_line(f"reason: {reason}", red=True, bold=True)
        terminalreporter.write_line(
            "Set RATHAUS_TEST_DATABASE_URL or start PostgreSQL on 127.0.0.1:5432.", red=True
        )
    for how in sorted(_SEEN.postgres_hows):
        terminalreporter.write_line(f"PostgreSQL tests ran against: {how}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # a pytest-xdist worker: the controller prints the banner
        workeroutput["rathaus_found"] = _found_here()
    if _POSTGRES.server is not None:
        _POSTGRES.server.close()
