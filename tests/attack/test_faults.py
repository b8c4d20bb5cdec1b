"""Faults: booking killed outright (SIGKILL, no shutdown) while it is under load.

Booking runs as production runs it, ``rathaus-booking serve`` in a process of its own, on a
database migrated to head and seeded with the demo municipality; the gateway and a key set
(the JWKS booking fetches) run in this process. Each test loads booking with parallel clients
for a second or two, kills it, restarts it on the same port and database, and checks:

- through the gateway, every answer is 200 or a 503 problem+json, none later than the route's
  deadline, and 200 again once booking is back;
- on PostgreSQL, of holds and confirmations made by many parallel clients, every one answered
  201/200 is in the database after the restart as answered, and no slot has more bookings than
  the office has counters.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from booking.bookings.models import Booking, BookingStatus
from booking.main import create_app as create_booking
from booking.offices.models import Office
from booking.seed import seed_demo
from booking.settings import BookingSettings
from gateway.main import create_gateway
from gateway.settings import Bucket, GatewaySettings, RouteClass
from servicekit.db import create_engine
from servicekit.settings import Environment
from servicekit.testing.live import LiveServer, free_port, run_live_server
from servicekit.testing.plugin import DatabaseRegistry
from servicekit.testing.tokens import TokenFactory
from tests.documents_booking.live_booking import fresh_database
from tests.live_rathaus import TENANT

from .conftest import attack_backend

BIN = Path(sys.executable).parent
ROUTE_TIMEOUT_S = 5.0
LOAD_S = 1.5
"""How long the clients load booking before the kill, and again after it."""
ENOUGH, BOOKING_LOAD_CAP_S = 30, 8.0
"""Confirmations the booking load waits for before the kill, at most that long."""


@dataclass
class BookingProcess:
    """``rathaus-booking serve`` on a fixed port, so that a restart takes the old one's place."""

    env: dict[str, str]
    port: int
    log: Path
    database_url: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(BIN / "rathaus-booking"), "serve"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        # Generous: on a loaded machine the imports alone take many seconds.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"booking did not become ready: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, connections cut as a crash or an OOM kill cuts them."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        assert self.process.wait(timeout=10) == -signal.SIGKILL
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def _key_server(tokens: TokenFactory) -> LiveServer:
    """The JWKS booking and the gateway fetch (identity's part, not under test here)."""
    keys = FastAPI()

    @keys.get("/jwks")
    async def jwks() -> dict[str, object]:
        return tokens.public_jwks()

    return run_live_server(keys)


async def _seeded(database_url: str) -> None:
    app = create_booking(
        BookingSettings.model_validate(
            {"environment": Environment.TEST, "database_url": database_url}
        )
    )
    await seed_demo(app)
    await app.state.database.engine.dispose()


@pytest.fixture(scope="module")
def tokens() -> TokenFactory:
    return TokenFactory()


@pytest.fixture(scope="module")
def keys(tokens: TokenFactory) -> Iterator[LiveServer]:
    server = _key_server(tokens)
    yield server
    server.stop()


@pytest.fixture(scope="module")
async def booking(
    database_registry: DatabaseRegistry,
    keys: LiveServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[BookingProcess]:
    """One booking process for the module (each start costs seconds): the tests kill and
    restart it in turn. On PostgreSQL unless the run is narrowed to SQLite (a run without
    PostgreSQL skips loudly, the kit's banner)."""
    database_url = fresh_database(database_registry, attack_backend(), "booking")
    await _seeded(database_url)
    env = {
        **os.environ,
        "BOOKING_ENVIRONMENT": "test",
        "BOOKING_DATABASE_URL": database_url,
        "BOOKING_PORT": str(free_port()),
        "BOOKING_AUTH_JWKS_URL": f"{keys.url}/jwks",
        # Confirmed at once (no mailed opt-in link), and no per-address limit on holds: the
        # load comes from one address.
        "BOOKING_TENANT_MAIL": f'{{"{TENANT}": {{"double_opt_in": false}}}}',
        "BOOKING_LIVE_HOLDS_PER_ADDRESS": "10000",
        "BOOKING_LOG_JSON": "false",
    }
    log = tmp_path_factory.mktemp("booking") / "booking.log"
    process = BookingProcess(env, int(env["BOOKING_PORT"]), log, database_url)
    process.start()
    try:
        yield process
    finally:
        process.stop()


@dataclass
class Answer:
    status: int | None
    """None: no answer at all (the connection broke)."""
    seconds: float
    problem_type: str | None = None
    at: float = 0.0


@dataclass
class Load:
    """Clients asking the same route over and over until told to stop."""

    http: httpx.AsyncClient
    url: str
    answers: list[Answer] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    recovered: float | None = None
    """Once set (a moment), the first 200 asked after it stops the load."""

    async def client(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                response = await self.http.get(self.url)
            except httpx.TransportError:
                self.answers.append(Answer(None, time.monotonic() - started, at=started))
                continue
            kind = None
            if response.headers.get("content-type") == "application/problem+json":
                kind = str(response.json().get("type", "")).rsplit(":", 1)[-1]
            self.answers.append(
                Answer(response.status_code, time.monotonic() - started, kind, started)
            )
            if self.recovered is not None and started > self.recovered and response.is_success:
                self.stop.set()
            await asyncio.sleep(0.005)


async def test_killed_booking_answers_503_through_the_gateway_and_recovers_on_restart(
    booking: BookingProcess, keys: LiveServer, tokens: TokenFactory
) -> None:
    settings = GatewaySettings.model_validate(
        {
            "environment": Environment.TEST,
            "auth_jwks_url": f"{keys.url}/jwks",
            "services": {"booking": [booking.url]},
            "route_classes": [
                RouteClass(
                    name="default",
                    timeout_s=ROUTE_TIMEOUT_S,
                    per_ip=Bucket(burst=100_000, per_s=100_000),
                )
            ],
            "breaker_failures": 5,
            "breaker_open_s": 0.5,
            "replica_eject_s": 0.5,
            "health_interval_s": 0,
            "access_log": False,
        }
    )
    gateway = run_live_server(create_gateway(settings))
    try:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
            load = Load(http, f"/booking/v1/tenants/{TENANT}/offices")
            clients = [asyncio.create_task(load.client()) for _ in range(8)]
            await asyncio.sleep(LOAD_S)
            killed_at = time.monotonic()
            booking.kill()
            await asyncio.sleep(LOAD_S)
            down = [a for a in load.answers if a.at > killed_at + 0.2]
            await asyncio.to_thread(booking.start)
            restarted_at = time.monotonic()
            load.recovered = restarted_at
            await asyncio.wait_for(load.stop.wait(), timeout=30)
            await asyncio.gather(*clients)
    finally:
        gateway.stop()

    answers = load.answers
    before = [a for a in answers if a.at + a.seconds < killed_at]
    back = [a for a in answers if a.at > restarted_at]
    assert before, "no load before the kill"
    assert {a.status for a in before} == {200}
    assert down, "no load while booking was down"
    assert {a.status for a in down} == {503}, {(a.status, a.problem_type) for a in down}
    assert {a.problem_type for a in down} <= {"upstream-unavailable", "upstream-circuit-open"}
    # The gateway never leaves a client without an answer, nor waits past the deadline.
    assert all(a.status is not None for a in answers)
    assert all(a.status in (200, 503) for a in answers), {a.status for a in answers}
    assert max(a.seconds for a in answers) < ROUTE_TIMEOUT_S
    assert any(a.status == 200 for a in back), "the gateway did not recover"


@dataclass
class Booked:
    held: dict[str, str] = field(default_factory=dict)
    """Booking id -> manage token, of every hold answered 201."""
    confirmed: set[str] = field(default_factory=set)
    """Every booking whose confirmation was answered 200."""
    refused: dict[int, int] = field(default_factory=dict)
    broken: int = 0
    turns: int = 0
    enough: asyncio.Event = field(default_factory=asyncio.Event)


async def _free_slots(http: httpx.AsyncClient, office: str, service: str) -> list[str]:
    where = {"office_id": office, "service_id": service}
    starts: list[str] = []
    day = date.today() + timedelta(days=1)
    while len(starts) < 200 and day < date.today() + timedelta(days=40):
        slots = await http.get(
            f"/booking/v1/tenants/{TENANT}/availability/slots",
            params={**where, "date": day.isoformat()},
        )
        assert slots.status_code == 200, slots.text
        starts += [str(slot["start"]) for slot in slots.json()["slots"]]
        day += timedelta(days=1)
    assert starts, "the demo office has no free slots"
    return starts


async def _book_until_stopped(
    http: httpx.AsyncClient,
    office: str,
    service: str,
    slots: list[str],
    counters: int,
    booked: Booked,
    stop: asyncio.Event,
) -> None:
    while not stop.is_set():
        # Each slot goes to one client more than the office has counters, one after another.
        start = slots[(booked.turns // (counters + 1)) % len(slots)]
        booked.turns += 1
        try:
            held = await http.post(
                f"/booking/v1/tenants/{TENANT}/holds",
                json={"office_id": office, "service_ids": [service], "start": start},
            )
            if held.status_code != 201:
                booked.refused[held.status_code] = booked.refused.get(held.status_code, 0) + 1
                continue
            booking_id, token = str(held.json()["id"]), held.json()["manage_token"]
            booked.held[booking_id] = token
            confirmed = await http.post(
                f"/booking/v1/bookings/{booking_id}/confirm",
                json={"name": "Last Test", "email": f"load.{uuid.uuid4().hex[:16]}@example.org"},
                headers={"X-Manage-Token": token},
            )
            if confirmed.status_code == 200:
                booked.confirmed.add(booking_id)
                if len(booked.confirmed) >= ENOUGH:
                    booked.enough.set()
        except httpx.TransportError:
            booked.broken += 1
            await asyncio.sleep(0.05)


async def test_booking_killed_under_a_booking_load_loses_and_doubles_nothing(
    booking: BookingProcess,
) -> None:
    if not booking.database_url.startswith("postgresql"):
        pytest.skip("the booking load under SIGKILL runs on PostgreSQL only")
    async with httpx.AsyncClient(base_url=booking.url, timeout=30) as http:
        offices = (await http.get(f"/booking/v1/tenants/{TENANT}/offices")).json()["items"]
        office = next(o for o in offices if o["name"] == "Bürgerbüro Nord")  # fewer counters
        service = str(office["services"][0]["service_id"])
        office_id = str(office["id"])
        slots = await _free_slots(http, office_id, service)
        booked, stop = Booked(), asyncio.Event()
        workers = [
            asyncio.create_task(
                _book_until_stopped(
                    http, office_id, service, slots, office["counters"], booked, stop
                )
            )
            for _ in range(16)
        ]
        # Load for LOAD_S, longer (up to BOOKING_LOAD_CAP_S) until enough have been confirmed.
        await asyncio.sleep(LOAD_S)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(booked.enough.wait(), BOOKING_LOAD_CAP_S - LOAD_S)
        confirmed_before_kill = len(booked.confirmed)
        booking.kill()
        await asyncio.sleep(0.3)
        stop.set()
        await asyncio.gather(*workers)
        await asyncio.to_thread(booking.start)
        # What the restarted booking says of every answered booking.
        views = {
            booking_id: await http.get(
                f"/booking/v1/bookings/{booking_id}", headers={"X-Manage-Token": token}
            )
            for booking_id, token in booked.held.items()
        }
        again = await http.post(
            f"/booking/v1/tenants/{TENANT}/holds",
            json={"office_id": office_id, "service_ids": [service], "start": slots[-1]},
        )

    assert confirmed_before_kill > 0, (booked.refused, booked.broken)
    assert booked.broken > 0, "the kill cut no request in flight"
    assert {r.status_code for r in views.values()} == {200}
    for booking_id in booked.confirmed:
        assert views[booking_id].json()["status"] == "confirmed", views[booking_id].text
    assert again.status_code in (201, 409), again.text

    engine = create_engine(booking.database_url)
    try:
        async with engine.connect() as connection:
            counters = (
                await connection.execute(
                    select(Office.counters).where(Office.id == uuid.UUID(office_id))
                )
            ).scalar_one()
            rows = (
                await connection.execute(
                    select(Booking.id, Booking.status, Booking.starts_at, Booking.ends_at).where(
                        Booking.office_id == uuid.UUID(office_id)
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    stored = {str(row.id): row for row in rows}
    assert set(booked.held) <= set(stored), "an answered hold is gone"
    assert all(stored[b].status == BookingStatus.CONFIRMED for b in booked.confirmed)
    confirmed = [row for row in rows if row.status == BookingStatus.CONFIRMED]
    at_once = max(
        sum(other.starts_at <= row.starts_at < other.ends_at for other in confirmed)
        for row in confirmed
    )
    assert at_once <= counters, f"{at_once} bookings at once at an office of {counters} counters"
