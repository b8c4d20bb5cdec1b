"""The repository base against a real database: get, add, add_all, delete, flush."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi import Depends, FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from servicekit.dependencies import app_state
from servicekit.repository import Repository


class _Base(DeclarativeBase):
    pass


class _Note(_Base):
    __tablename__ = "note"
    id: Mapped[str] = mapped_column(String(8), primary_key=True)
    text: Mapped[str] = mapped_column(String(40))


class _Notes(Repository[_Note]):
    model = _Note


@pytest.fixture
async def session() -> AsyncIterator[AsyncSession]:
    engine = create_async_engine("sqlite+aiosqlite://")
    async with engine.begin() as connection:
        await connection.run_sync(_Base.metadata.create_all)
    async with async_sessionmaker(engine, expire_on_commit=False)() as session:
        yield session
    await engine.dispose()


async def test_add_is_flushed_and_get_finds_it(session: AsyncSession) -> None:
    notes = _Notes(session)
    added = await notes.add(_Note(id="a", text="one"))
    assert await notes.get("a") is added
    assert (await session.scalars(select(_Note.text))).all() == ["one"]
    assert await notes.get("missing") is None


async def test_add_of_a_duplicate_key_fails_at_once(session: AsyncSession) -> None:
    notes = _Notes(session)
    await notes.add(_Note(id="a", text="one"))
    session.expunge_all()
    with pytest.raises(IntegrityError):
        await notes.add(_Note(id="a", text="two"))


async def test_add_all_and_delete(session: AsyncSession) -> None:
    notes = _Notes(session)
    await notes.add_all([_Note(id="a", text="one"), _Note(id="b", text="two")])
    first = await notes.get("a")
    assert first is not None
    await notes.delete(first)
    assert (await session.scalars(select(_Note.id))).all() == ["b"]


async def test_app_state_answers_the_object_and_refuses_a_missing_one() -> None:
    app = FastAPI()
    app.state.greeting = "hello"

    @app.get("/greeting")
    async def greeting(value: str = Depends(app_state("greeting", str))) -> str:
        return value

    @app.get("/missing")
    async def missing(value: int = Depends(app_state("missing", int))) -> int:
        return value

    async with AsyncClient(transport=ASGITransport(app), base_url="http://test") as client:
        assert (await client.get("/greeting")).json() == "hello"
        with pytest.raises(RuntimeError, match=r"app\.state\.missing"):
            await client.get("/missing")
