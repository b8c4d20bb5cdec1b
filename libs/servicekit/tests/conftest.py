"""Fixtures of the kit's tests; a module that uses ``database`` provides ``metadata``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import MetaData

from servicekit.db import Database


@pytest.fixture
async def database(empty_database_url: str, metadata: MetaData) -> AsyncIterator[Database]:
    """A fresh database (on each backend) holding the tables of the module's ``metadata``."""
    database = Database(empty_database_url)
    async with database.engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield database
    await database.dispose()
