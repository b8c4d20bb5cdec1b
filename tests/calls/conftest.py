"""A Rathaus for the video call tests: every service on a real server, the attack suite's
world of people and bookings (tests/attack/world.py), and the citizen's booking moved to now,
as if the day had come."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import update

from booking.bookings.models import Booking
from servicekit.db import create_engine
from servicekit.testing.plugin import DatabaseRegistry
from tests.attack.conftest import FAST_IDENTITY, GENEROUS, attack_backend
from tests.attack.world import World, build_world
from tests.live_rathaus import start_system

TURN_SECRET = "turn-shared-secret-of-the-tests-0123456789"
CALLS = {
    "turn_secret": TURN_SECRET,
    "stun_urls": ["stun:127.0.0.1:3478"],
    "turn_urls": ["turn:127.0.0.1:3478?transport=udp"],
}


async def move_appointment(database_url: str, booking_id: str, starts_at: datetime) -> None:
    """Move the appointment behind the services' backs (booking's own table)."""
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                update(Booking)
                .where(Booking.id == uuid.UUID(booking_id))
                .values(starts_at=starts_at, ends_at=starts_at + timedelta(minutes=20))
            )
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
async def world(
    database_registry: DatabaseRegistry, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    system = await start_system(
        database_registry,
        attack_backend(),
        tmp_path_factory.mktemp("blobs"),
        overrides={
            "identity": FAST_IDENTITY,
            "gateway": {"route_classes": [GENEROUS], "health_interval_s": 0},
            "documents": {**CALLS, "call_messages_burst": 40, "call_messages_per_s": 5},
        },
    )
    try:
        async with httpx.AsyncClient(base_url=system.gateway, timeout=30) as http:
            built = await build_world(system, http)
        await move_appointment(
            system.booking_database_url, built.mine.booking_id, datetime.now(UTC)
        )
        yield built
    finally:
        system.stop()
