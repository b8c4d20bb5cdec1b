"""The seat gate in front of the database: a slot known to be full is refused without asking
the database, and a seat freed in this process is offered again at once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession

from ..factories import (
    at,
    book,
    create_office,
    create_service,
    hold,
    local_day,
    open_every_day,
)


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """Every SQL statement any engine of this process sends while the test runs."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(Engine, "before_cursor_execute", record)
    yield seen
    event.remove(Engine, "before_cursor_execute", record)


async def test_a_full_slot_is_refused_without_the_database_until_a_seat_is_freed(
    client: httpx.AsyncClient, session: AsyncSession, statements: list[str]
) -> None:
    service = await create_service(session, duration_minutes=20)
    office = await create_office(session, service, counters=1)
    await open_every_day(session, office)
    start = at(local_day(3), 9)
    first = await book(client, office, service, start=start)

    statements.clear()
    refused = await hold(client, office, service, start=start)
    asked = [s for s in statements if "slot_claims" in s]
    cancelled = await client.post(
        f"/booking/v1/bookings/{first['id']}/cancel",
        headers={"X-Manage-Token": first["manage_token"]},
    )
    again = await hold(client, office, service, start=start)

    assert refused.status_code == 409
    assert refused.json()["type"] == "urn:rathaus:problem:slot-taken"
    assert asked == []
    assert cancelled.status_code == 200
    assert again.status_code == 201, again.text


async def test_without_memory_the_database_is_asked_every_time(
    client: httpx.AsyncClient, session: AsyncSession, statements: list[str], app: Any
) -> None:
    app.state.booking_desk.gate.memory_seconds = 0
    service = await create_service(session, duration_minutes=20)
    office = await create_office(session, service, counters=1)
    await open_every_day(session, office)
    start = at(local_day(3), 9)
    await book(client, office, service, start=start)

    statements.clear()
    refused = await hold(client, office, service, start=start)

    assert refused.status_code == 409
    assert any("slot_claims" in s for s in statements)
