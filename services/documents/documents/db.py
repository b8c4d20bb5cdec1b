from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from servicekit.db import new_metadata

__all__ = ["Base"]


class Base(DeclarativeBase):
    metadata = new_metadata()
