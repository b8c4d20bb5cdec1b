"""The attack suite's Rathaus: every service on a real server, on PostgreSQL when the run has it.

Each module gets a Rathaus of its own (a fuzzer's admin may change what the next module relies
on) with the demo seed and a second municipality beside it, and the real tokens of each role,
obtained from identity as a client would (password logins, the partner's client credentials).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gateway.settings import Bucket, RouteClass
from servicekit.testing.plugin import DatabaseRegistry
from tests.live_rathaus import start_system

from .world import World, build_world

# The gateway's rate limits are tested in gateway/tests; here they would only answer 429.
GENEROUS = RouteClass(
    name="default",
    per_ip=Bucket(burst=100_000, per_s=100_000),
    max_body_bytes=50 * 1024 * 1024,
)
FAST_IDENTITY = {
    # A token outlives the module; logins cost little CPU (2 cores, shared).
    "access_token_ttl_s": 3600,
    "argon2_time_cost": 1,
    "argon2_memory_kib": 1024,
    "argon2_parallelism": 1,
}


def attack_backend() -> str:
    """PostgreSQL (production's database), unless the run is narrowed to SQLite."""
    wanted = os.environ.get("RATHAUS_TEST_BACKENDS", "postgresql")
    return "postgresql" if "postgresql" in wanted else "sqlite"


@pytest.fixture(scope="module")
def system_overrides() -> dict[str, dict[str, Any]]:
    """Settings per server for the module's Rathaus (a module may override this fixture)."""
    return {
        "identity": FAST_IDENTITY,
        "gateway": {"route_classes": [GENEROUS], "health_interval_s": 0},
    }


@pytest.fixture(scope="module")
async def world(
    database_registry: DatabaseRegistry,
    tmp_path_factory: pytest.TempPathFactory,
    system_overrides: dict[str, dict[str, Any]],
) -> AsyncIterator[World]:
    system = await start_system(
        database_registry,
        attack_backend(),
        tmp_path_factory.mktemp("blobs"),
        overrides=system_overrides,
    )
    try:
        async with httpx.AsyncClient(base_url=system.gateway, timeout=30) as http:
            yield await build_world(system, http)
    finally:
        system.stop()
