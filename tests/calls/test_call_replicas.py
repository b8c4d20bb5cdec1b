"""Two documents replicas behind one Redis: the citizen's socket on one, the clerk's on the
other, and they meet as on one process (signalling relayed through Redis pub/sub)."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from documents.main import create_app as create_documents
from servicekit.testing.live import LiveServer, free_port, run_live_server
from servicekit.testing.plugin import DatabaseRegistry
from servicekit.testing.system import require_program
from tests.attack.conftest import FAST_IDENTITY, GENEROUS, attack_backend
from tests.attack.world import World, build_world
from tests.calls.conftest import CALLS
from tests.calls.signalling import GUARD_S, Peer, call_path
from tests.live_rathaus import move_appointment, start_system

pytestmark = pytest.mark.asyncio(loop_scope="module")


def _answers(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def redis_port() -> Iterator[int]:
    """A redis-server of this module's own (Debian's), skipped loudly where it is missing."""
    binary = require_program("redis-server", package="redis-server")
    port = free_port()
    process = subprocess.Popen(
        [str(binary), "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not _answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        yield port
    finally:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
async def replicas(
    database_registry: DatabaseRegistry,
    tmp_path_factory: pytest.TempPathFactory,
    redis_port: int,
) -> AsyncIterator[tuple[World, list[str]]]:
    """The world, and the URLs of two documents replicas on one database and one Redis."""
    system = await start_system(
        database_registry,
        attack_backend(),
        tmp_path_factory.mktemp("blobs"),
        overrides={
            "identity": FAST_IDENTITY,
            "gateway": {"route_classes": [GENEROUS], "health_interval_s": 0},
            "documents": {**CALLS, "call_redis_url": f"redis://127.0.0.1:{redis_port}/0"},
        },
    )
    second: LiveServer | None = None
    try:
        first_app: Any = system.servers[2].server.config.app
        second = run_live_server(create_documents(first_app.state.settings))
        async with httpx.AsyncClient(base_url=system.gateway, timeout=30) as http:
            world = await build_world(system, http)
        await move_appointment(
            system.booking_database_url, world.mine.booking_id, datetime.now(UTC)
        )
        yield world, [system.servers[2].url, second.url]
    finally:
        if second is not None:
            second.stop()
        system.stop()


@asynccontextmanager
async def _joined(base: str, booking_id: str, headers: dict[str, str]) -> AsyncIterator[Peer]:
    url = base.replace("http://", "ws://", 1) + call_path(booking_id)
    async with connect(url, additional_headers=headers, open_timeout=GUARD_S) as connection:
        yield Peer(connection)


async def test_citizen_and_clerk_on_different_replicas_meet_through_redis(
    replicas: tuple[World, list[str]],
) -> None:
    world, (one, other) = replicas
    booking_id = world.mine.booking_id
    async with (
        _joined(one, booking_id, world.headers["citizen"]) as citizen,
        _joined(other, booking_id, world.headers["clerk"]) as clerk,
    ):
        me = (await citizen.expect("welcome"))["peer"]
        await clerk.expect("peer", peer=me, state="waiting")
        await clerk.send({"type": "admit", "peer": me})
        await citizen.expect("admitted")
        await clerk.expect("peer", peer=me, state="admitted")
        await citizen.send({"type": "offer", "sdp": "v=0 across replicas"})
        assert (await clerk.expect("offer"))["sdp"] == "v=0 across replicas"
        await clerk.send({"type": "answer", "sdp": "v=0 back", "to": me})
        assert (await citizen.expect("answer"))["sdp"] == "v=0 back"
        await clerk.send({"type": "end"})
        assert (await citizen.closed())[0] == 4000
