"""CPU per request of the booking service's own code, without HTTP parsing or other processes.

    .venv/bin/python bench/booking/cpu.py [--server postgresql://postgres@127.0.0.1:5432/postgres]

Creates a throwaway PostgreSQL database with the fixtures of ``run.py`` (then ANALYZE), builds
the booking app in this process and calls it as an ASGI application directly: no sockets, no
uvicorn, no client library. For each kind of request it takes the best of 5 rounds of CPU
time (``time.process_time``: the other processes of a busy machine do not count, PostgreSQL's
own work does not either) and counts the Python function calls per request (cProfile), which
do not depend on the machine at all:

- ``GET /livez``: the floor of the framework (middleware, routing, response);
- a refused hold: ``POST .../holds`` for a slot that is known to be full (409);
- a hold that wins and its confirmation (``POST .../holds`` + ``POST .../confirm``);
- ``GET .../bookings/{id}/checklist`` with the manage link: what documents asks booking
  before an upload.

These are what bench (b) of ``run.py`` multiplies: per confirmed booking there, the service
answers about ten refused holds, one winning hold and one confirmation.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import uvloop
from fastapi import FastAPI
from run import contended_slots, prepare_database, sql

from booking.main import create_app
from booking.settings import BookingSettings

ROUNDS = 5


async def call(
    app: FastAPI, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    """One request through the ASGI app, as uvicorn would hand it over."""
    payload = json.dumps(body).encode() if body is not None else b""
    raw_headers = [
        (b"host", b"bench"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in (headers or {}).items()),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": raw_headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    received = False
    answer: dict[str, Any] = {"body": b""}

    async def receive() -> dict[str, Any]:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": payload, "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return answer["status"], json.loads(answer["body"] or b"null")


async def measure(
    name: str, request: Callable[[], Awaitable[None]], count: int
) -> tuple[str, float, float]:
    """(name, best CPU ms per request over the rounds, Python calls per request)."""
    best = float("inf")
    for _ in range(ROUNDS):
        began = time.process_time()
        for _ in range(count):
            await request()
        best = min(best, (time.process_time() - began) / count * 1000)
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(count):
        await request()
    profile.disable()
    calls = pstats.Stats(profile).total_calls / count
    return name, best, calls


async def run_all(app: FastAPI, fixture: dict[str, Any]) -> list[tuple[str, float, float]]:
    tenant = fixture["tenant"]
    holds = f"/booking/v1/tenants/{tenant}/holds"
    slots: Iterator[datetime] = iter(contended_slots(datetime.now(UTC), first_day=1, count=600))

    def hold_body(start: datetime) -> dict[str, Any]:
        return {
            "office_id": fixture["engpass"],
            "service_ids": [fixture["quick"]],
            "start": start.isoformat(),
        }

    full = hold_body(next(slots))
    for _ in range(3):  # the office has 3 counters
        status, answer = await call(app, "POST", holds, full)
        assert status == 201, answer

    async def livez() -> None:
        status, _ = await call(app, "GET", "/livez")
        assert status == 200

    async def refused_hold() -> None:
        status, _ = await call(app, "POST", holds, full)
        assert status == 409

    async def hold_and_confirm() -> None:
        status, held = await call(app, "POST", holds, hold_body(next(slots)))
        assert status == 201, held
        status, confirmed = await call(
            app,
            "POST",
            f"/booking/v1/bookings/{held['id']}/confirm",
            {"name": "Bench", "email": f"{uuid.uuid4().hex}@bench.example"},
            {"X-Manage-Token": held["manage_token"]},
        )
        assert status == 200, confirmed

    async with app.router.lifespan_context(app):
        status, booked = await call(app, "POST", holds, hold_body(next(slots)))
        assert status == 201, booked
        checklist_path = f"/booking/v1/bookings/{booked['id']}/checklist"
        manage = {"X-Manage-Token": booked["manage_token"]}

        async def checklist() -> None:
            status, _ = await call(app, "GET", checklist_path, headers=manage)
            assert status == 200

        return [
            await measure("GET /livez", livez, 1000),
            await measure("refused hold (slot known full, 409)", refused_hold, 1000),
            await measure("winning hold + confirmation", hold_and_confirm, 40),
            await measure("checklist of a booking (what documents asks)", checklist, 500),
        ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    server = httpx.URL(args.server)
    database = f"rathaus_bench_cpu_{uuid.uuid4().hex[:8]}"
    dsn = str(server.copy_with(path=f"/{database}"))
    url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
    asyncio.run(sql(args.server, f'CREATE DATABASE "{database}"'))
    try:
        env = {**os.environ, "BOOKING_DATABASE_URL": url, "BOOKING_LOG_LEVEL": "WARNING"}
        fixture = prepare_database(env, url, dsn)
        os.environ.update(env)  # the service's settings, as `rathaus-booking serve` reads them
        results = uvloop.run(run_all(create_app(BookingSettings()), fixture))
    finally:
        asyncio.run(sql(args.server, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, in-process, PostgreSQL, best of {ROUNDS}")
    print()
    print("| request | CPU ms per request | Python calls per request |")
    print("|---|---:|---:|")
    for name, cpu_ms, calls in results:
        print(f"| {name} | {cpu_ms:.3f} | {calls:.0f} |")


if __name__ == "__main__":
    main()
