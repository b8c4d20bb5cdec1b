"""The pool hands out connections without a ping, unless they sat idle (PostgreSQL only)."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import exc, text

from servicekit.db import Database

pytestmark = pytest.mark.parametrize("db_backend", ["postgresql"], indirect=True)


async def _backend_pid(database: Database) -> int:
    async with database.engine.connect() as connection:
        return int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _terminate(empty_database_url: str, pid: int) -> None:
    # Another connection ends the pooled one, as a database restart or a firewall would.
    dsn = empty_database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    admin = await asyncpg.connect(dsn)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()


async def _queries_of_three_checkouts(database: Database) -> list[str]:
    """What the server is sent for three checkouts of the pool's one connection."""
    queries: list[str] = []
    async with database.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        driver.add_query_logger(lambda record: queries.append(record.query.strip()))
    for _ in range(3):
        async with database.engine.connect() as connection:
            await connection.execute(text("SELECT 2"))
    return queries


async def test_a_connection_used_moments_ago_is_handed_out_without_a_ping(
    empty_database_url: str,
) -> None:
    database = Database(empty_database_url, pool_size=1, ping_after_idle_s=60)
    try:
        queries = await _queries_of_three_checkouts(database)
    finally:
        await database.dispose()

    # Each checkout: only the query's own transaction (the query itself is a prepared
    # statement, which the logger does not show).
    assert queries == ["BEGIN;", "ROLLBACK;"] * 3


async def test_a_connection_idle_for_longer_is_pinged_before_it_is_handed_out(
    empty_database_url: str,
) -> None:
    database = Database(empty_database_url, pool_size=1, ping_after_idle_s=0)
    try:
        queries = await _queries_of_three_checkouts(database)
    finally:
        await database.dispose()

    # Each checkout: the ping (BEGIN, an empty statement, ROLLBACK), then the query's own.
    assert queries == ["BEGIN;", ";", "ROLLBACK;", "BEGIN;", "ROLLBACK;"] * 3


async def test_a_connection_that_sat_idle_is_pinged_and_replaced_when_dead(
    empty_database_url: str,
) -> None:
    database = Database(empty_database_url, pool_size=1, ping_after_idle_s=0)
    try:
        first = await _backend_pid(database)
        await _terminate(empty_database_url, first)

        second = await _backend_pid(database)  # no error: the dead one was replaced

        assert second != first
    finally:
        await database.dispose()


async def test_without_the_idle_ping_a_dead_connection_fails_once_then_the_pool_recovers(
    empty_database_url: str,
) -> None:
    database = Database(empty_database_url, pool_size=1, ping_after_idle_s=3600)
    try:
        first = await _backend_pid(database)
        await _terminate(empty_database_url, first)

        with pytest.raises(exc.DBAPIError) as failed:
            await _backend_pid(database)
        assert failed.value.connection_invalidated  # answered 503 dependency-unavailable

        assert await _backend_pid(database) != first
    finally:
        await database.dispose()
