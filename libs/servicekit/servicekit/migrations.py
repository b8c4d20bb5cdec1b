"""Alembic, driven the same way by every service.

A service's ``migrations/env.py`` is two lines: it calls :func:`run_env` with its metadata.
Migrations run on a sync connection borrowed from the async engine, so the same code serves
the CLI (``alembic upgrade head``), ``make run`` and the test fixtures (which pass their own
connection in ``config.attributes["connection"]``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Literal

from alembic import command, context
from alembic.config import Config
from sqlalchemy import Connection, MetaData

from servicekit.db import UTCDateTime, create_engine


def _render_item(kind: str, obj: Any, _context: Any) -> str | Literal[False]:
    # Migrations must not import the kit's types: a later change to them would rewrite history.
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def alembic_config(service_dir: Path, database_url: str) -> Config:
    config = Config(str(service_dir / "alembic.ini"))
    config.set_main_option("script_location", str(service_dir / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def _run_on(connection: Connection, metadata: MetaData) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        compare_server_default=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online(url: str, metadata: MetaData) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_on, metadata)
            await connection.commit()
    finally:
        await engine.dispose()


def run_env(metadata: MetaData, *, default_url: str) -> None:
    """The body of every service's ``migrations/env.py``.

    ``default_url`` (the service's configured database) serves a plain ``alembic`` command
    line; programmatic callers set ``sqlalchemy.url`` or pass a connection.
    """
    config = context.config
    if not config.get_main_option("sqlalchemy.url"):
        config.set_main_option("sqlalchemy.url", default_url.replace("%", "%%"))
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection, metadata)
        return
    if context.is_offline_mode():
        context.configure(
            url=config.get_main_option("sqlalchemy.url"),
            target_metadata=metadata,
            literal_binds=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None
    asyncio.run(_run_online(url, metadata))


def upgrade_on(connection: Connection, service_dir: Path, revision: str = "head") -> None:
    """Upgrade through an existing sync connection (``await conn.run_sync(upgrade_on, ...)``)."""
    config = alembic_config(service_dir, str(connection.engine.url))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def upgrade(service_dir: Path, database_url: str, revision: str = "head") -> None:
    """Upgrade a database from outside an event loop (CLI, ``make run``)."""
    if database_url.startswith("sqlite"):
        path = database_url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(service_dir, database_url), revision)
