"""The base every repository builds on: the few methods each one needs, written once.

A repository holds one session and owns every query of its feature (no SQL in services or
routers); it flushes but never commits, since the request's session commits once::

    class OfficeRepository(Repository[Office]):
        model = Office

        async def in_tenant(self, ags: str) -> Sequence[Office]: ...

``get``, ``add``, ``add_all``, ``delete`` and ``flush`` come from here; a repository adds only
its own queries. Repositories whose rows have no single model (a log of several tables) may
derive from :class:`SessionRepository`, which only holds the session.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import CursorResult, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase

M = TypeVar("M", bound=DeclarativeBase)

__all__ = ["Repository", "SessionRepository", "SingleUseRepository"]


class SessionRepository:
    """A repository's session, for queries that span several models."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def flush(self) -> None:
        await self.session.flush()


class Repository(SessionRepository, Generic[M]):
    """The common methods of a repository over one model ``M`` (set ``model`` on the class)."""

    model: type[M]

    async def get(self, ident: Any) -> M | None:
        """The row with this primary key, or None (from the session's identity map if loaded)."""
        return await self.session.get(self.model, ident)

    async def add(self, instance: M) -> M:
        """Insert ``instance`` now (flushed, so database defaults and constraints apply)."""
        self.session.add(instance)
        await self.session.flush()
        return instance

    async def add_all(self, instances: Iterable[M]) -> None:
        self.session.add_all(instances)
        await self.session.flush()

    async def delete(self, instance: M) -> None:
        await self.session.delete(instance)
        await self.session.flush()


class SingleUseRepository(Repository[M]):
    """Rows that are used once before they expire (mailed codes): ``model`` has the columns
    ``id``, ``used_at`` and ``expires_at``, and the column named by ``owner`` (whose codes
    they are)."""

    owner: str = "account_id"

    async def claim(self, row_id: str, now: datetime) -> bool:
        """Mark the row used; False when it was used (at the same time, too) or expired."""
        model: Any = self.model
        result = await self.session.execute(
            update(model)
            .where(model.id == row_id, model.used_at.is_(None), model.expires_at > now)
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        assert isinstance(result, CursorResult)
        return result.rowcount == 1

    async def end_all_of(self, owner_id: str, now: datetime) -> None:
        """None of the owner's unused rows can be used any more."""
        model: Any = self.model
        await self.session.execute(
            update(model)
            .where(getattr(model, self.owner) == owner_id, model.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
