from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase

from servicekit.db import new_metadata

__all__ = ["Base", "ignoring_conflicts", "insert_ignoring_conflicts"]


class Base(DeclarativeBase):
    metadata = new_metadata()


def insert_ignoring_conflicts(
    session: AsyncSession, model: type[Base], **values: Any
) -> postgresql.Insert | sqlite.Insert:
    """``INSERT ... ON CONFLICT DO NOTHING`` in the session's dialect (both spell it alike)."""
    return ignoring_conflicts(session.get_bind().dialect.name, model).values(**values)


def ignoring_conflicts(
    dialect: str, target: type[Base] | Table
) -> postgresql.Insert | sqlite.Insert:
    """``INSERT ... ON CONFLICT DO NOTHING`` for ``dialect`` ("postgresql" or "sqlite")."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(target).on_conflict_do_nothing()
