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
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase

M = TypeVar("M", bound=DeclarativeBase)

__all__ = ["Repository", "SessionRepository"]


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
