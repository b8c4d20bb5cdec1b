from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from servicekit.db import SessionDep, new_metadata

__all__ = ["Base", "SessionDep"]


class Base(DeclarativeBase):
    metadata = new_metadata()
