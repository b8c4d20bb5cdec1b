from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase

from servicekit.db import SessionDep, new_metadata

__all__ = ["Base", "SessionDep", "insert_ignoring_conflicts"]


class Base(DeclarativeBase):
    metadata = new_metadata()


def insert_ignoring_conflicts(
    session: AsyncSession, model: type[Base], **values: Any
) -> postgresql.Insert | sqlite.Insert:
    """``INSERT ... ON CONFLICT DO NOTHING`` in the session's dialect (both spell it alike)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model).values(**values).on_conflict_do_nothing()
    return sqlite.insert(model).values(**values).on_conflict_do_nothing()
