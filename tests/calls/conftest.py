"""A Rathaus for the video call tests: every service on a real server, the attack suite's
world of people and bookings (tests/attack/world.py), and the citizen's booking moved to now,
as if the day had come."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from gateway.settings import default_route_classes
from servicekit.testing.live import free_port
from servicekit.testing.plugin import DatabaseRegistry
from servicekit.testing.system import require_program
from tests.attack.conftest import FAST_IDENTITY, GENEROUS, attack_backend
from tests.attack.world import World, build_world
from tests.live_rathaus import move_appointment, start_system

WEBHOOKS = next(route for route in default_route_classes() if route.name == "webhooks")
TURN_SECRET = "turn-shared-secret-of-the-tests-0123456789"
TURN_PORT = free_port()
"""Where the tests' coturn listens (started by the ``coturn`` fixture, for the tests that
relay); documents hands it out from the start."""
CALLS = {
    "turn_secret": TURN_SECRET,
    "stun_urls": [f"stun:127.0.0.1:{TURN_PORT}"],
    "turn_urls": [f"turn:127.0.0.1:{TURN_PORT}?transport=udp"],
}


@pytest.fixture(scope="module")
async def world(
    request: pytest.FixtureRequest,
    database_registry: DatabaseRegistry,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[World]:
    """The module's Rathaus; a module's ``DOCUMENTS`` adds settings of documents."""
    documents = getattr(request.module, "DOCUMENTS", {})
    system = await start_system(
        database_registry,
        attack_backend(),
        tmp_path_factory.mktemp("blobs"),
        overrides={
            "identity": FAST_IDENTITY,
            "gateway": {"route_classes": [WEBHOOKS, GENEROUS], "health_interval_s": 0},
            "documents": {
                **CALLS,
                "call_messages_burst": 40,
                "call_messages_per_s": 5,
                **documents,
            },
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


def _stun_answers(port: int) -> bool:
    """Whether a STUN binding request to 127.0.0.1:port gets an answer."""
    request = b"\x00\x01\x00\x00\x21\x12\xa4\x42" + b"rathaus-test"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.settimeout(0.2)
        probe.sendto(request, ("127.0.0.1", port))
        try:
            return probe.recv(1024)[:2] == b"\x01\x01"
        except OSError:
            return False


@pytest.fixture(scope="module")
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A real coturn (Debian's) on loopback with the TURN REST scheme and the tests' shared
    secret; its port. Skipped loudly where coturn is not installed."""
    turnserver = require_program("turnserver", package="coturn")
    home: Path = tmp_path_factory.mktemp("coturn")
    relay_low = free_port()
    process = subprocess.Popen(
        [
            str(turnserver),
            "--no-rfc5780",
            "-n",
            "--listening-ip=127.0.0.1",
            f"--listening-port={TURN_PORT}",
            "--relay-ip=127.0.0.1",
            f"--min-port={relay_low}",
            f"--max-port={relay_low + 200}",
            "--use-auth-secret",
            f"--static-auth-secret={TURN_SECRET}",
            "--realm=rathaus.test",
            "--allow-loopback-peers",
            "--no-tls",
            "--no-dtls",
            "--no-cli",
            "--no-software-attribute",
            f"--pidfile={home / 'turnserver.pid'}",
            f"--log-file={home / 'turnserver.log'}",
            "--simple-log",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not _stun_answers(TURN_PORT):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"coturn did not start: {_log(home)}")
            time.sleep(0.05)
        yield TURN_PORT
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _log(home: Path) -> str:
    logs = sorted(home.glob("turnserver*.log"))
    return logs[-1].read_text(errors="replace")[-2000:] if logs else "(no log)"
