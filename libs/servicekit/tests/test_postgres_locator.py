from __future__ import annotations

import shutil

import pytest

from servicekit.testing.postgres import (
    _reachable,
    _start_throwaway_cluster,
    locate_postgres,
    run_sync,
)


def test_a_throwaway_cluster_starts_serves_and_is_removed() -> None:
    if shutil.which("initdb") is None and not shutil.which("pg_ctl"):
        pytest.skip("no PostgreSQL binaries installed")
    server = _start_throwaway_cluster()
    assert server is not None
    try:
        name = server.create_database("rathaus_probe")
        assert run_sync(_reachable(server.dsn))
        server.drop_database(name)
    finally:
        server.close()

    assert not run_sync(_reachable(server.dsn))


def test_an_unreachable_configured_server_is_reported_not_replaced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RATHAUS_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/postgres")

    server, reason = locate_postgres()

    assert server is None
    assert "RATHAUS_TEST_DATABASE_URL" in reason
