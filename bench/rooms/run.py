"""Video call signalling: round trips at many concurrent rooms through the gateway, memory per
idle socket of the documents process alone, rooms held open without loss.

    .venv/bin/python bench/rooms/run.py [--rooms 200] [--rounds 20] [--idle 500,2000]
                                        [--hold-s 600] [--trace] [--database postgresql://...]

Starts a whole Rathaus on loopback (tests/live_rathaus.py: identity, booking and the gateway, each
a real uvicorn server in this process) and documents **in a process of its own**, served as in
production (``servicekit.server.serve``: the hardened protocol, its limits) with the same
settings, the gateway routing to it. Books appointments through booking's API (anonymous holds,
each confirmed with its own address) and moves them to now in booking's database, as the call
tests do. Per room the citizen (manage link) and the clerk (a real token) open the call's
WebSocket through the gateway and the clerk admits the citizen. Then:

- round trip: in every room at once, ``--rounds`` times, the citizen sends an offer, the clerk
  answers it, and the citizen's clock runs from sending the offer to receiving the answer
  (four hops through the gateway, two through documents' relay);
- memory: the documents process's RSS and USS (psutil) with 0 idle sockets and then with each
  count of ``--idle`` (cumulative, side by side in one run): citizens of bookings of their own
  connect straight to documents and wait to be admitted. ``--trace`` instead runs documents
  under tracemalloc and names the allocation sites that grew per socket (tracemalloc's own
  overhead inflates RSS then, so its figures are not the memory's);
- hold: the rooms and the idle sockets stay open for ``--hold-s`` seconds, a round trip per room
  every 30 s; lost are the sockets closed meanwhile and the round trips not done within 30 s.

Prints the figures as JSON and writes them to ``results.json`` (``results-trace.json`` with
``--trace``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pickle
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]
from sqlalchemy import update
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus
from websockets.protocol import State

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from booking.bookings.models import Booking  # noqa: E402
from servicekit.db import create_engine  # noqa: E402
from servicekit.testing.live import free_port  # noqa: E402
from servicekit.testing.plugin import DatabaseRegistry  # noqa: E402
from tests.live_rathaus import ADMIN, CLERK, TENANT, start_system  # noqa: E402

HERE = Path(__file__).resolve().parent
CALL = "/documents/v1/bookings/{}/room/call"


async def _json(connection: ClientConnection, kind: str) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = json.loads(await connection.recv())
        if message["type"] == kind:
            return message


async def _slots(
    http: httpx.AsyncClient, office: str, service: str, wanted: int
) -> list[tuple[str, str, str]]:
    """Free slots (office, service, start), first those of ``office`` and ``service``."""
    offices = (await http.get(f"/booking/v1/tenants/{TENANT}/offices")).json()["items"]
    pairs = [(office, service)] + [
        (o["id"], str(s["service_id"]))
        for o in offices
        for s in o["services"]
        if (o["id"], str(s["service_id"])) != (office, service)
    ]
    found: list[tuple[str, str, str]] = []
    for office_id, service_id in pairs:
        where = {"service_id": service_id, "office_id": office_id}
        for months_ahead in range(6):
            month = (date.today() + timedelta(days=31 * months_ahead)).strftime("%Y-%m")
            days = await http.get(
                f"/booking/v1/tenants/{TENANT}/availability/days", params={**where, "month": month}
            )
            for day in days.json()["days"]:
                slots = await http.get(
                    f"/booking/v1/tenants/{TENANT}/availability/slots",
                    params={**where, "date": day["date"]},
                )
                found.extend((office_id, service_id, s["start"]) for s in slots.json()["slots"])
                if len(found) >= wanted:
                    return found[:wanted]
    raise RuntimeError(f"only {len(found)} free slots")


async def _book(
    http: httpx.AsyncClient, office: str, service: str, start: str
) -> tuple[str, str] | None:
    """A confirmed booking (its id and manage token); None when the slot is not to be had."""
    held = await http.post(
        f"/booking/v1/tenants/{TENANT}/holds",
        json={"office_id": office, "service_ids": [service], "start": start},
    )
    if held.status_code == 409 or held.status_code >= 500:
        # Taken meanwhile, or booking too slow on a loaded machine: the next slot instead (a
        # hold made after all lapses on its own).
        return None
    assert held.status_code == 201, held.text
    token = held.json()["manage_token"]
    confirmed = await http.post(
        f"/booking/v1/bookings/{held.json()['id']}/confirm",
        json={"name": "Erika Mustermann", "email": f"e.{uuid.uuid4().hex[:12]}@example.org"},
        headers={"X-Manage-Token": token},
    )
    if confirmed.status_code >= 500:
        return None
    assert confirmed.status_code == 200, confirmed.text
    return str(held.json()["id"]), token


async def _move_to_now(database_url: str, booking_ids: list[str]) -> None:
    engine = create_engine(database_url)
    now = datetime.now(UTC)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                update(Booking)
                .where(Booking.id.in_([uuid.UUID(b) for b in booking_ids]))
                .values(starts_at=now, ends_at=now + timedelta(hours=3))
            )
    finally:
        await engine.dispose()


class Room:
    def __init__(self, booking_id: str, manage_token: str) -> None:
        self.booking_id = booking_id
        self.manage_token = manage_token
        self.citizen: ClientConnection | None = None
        self.clerk: ClientConnection | None = None
        self.peer = ""

    async def open(self, ws: str, clerk_headers: dict[str, str]) -> None:
        url = ws + CALL.format(self.booking_id)
        try:
            self.citizen = await connect(
                url, additional_headers={"X-Manage-Token": self.manage_token}, max_size=2**20
            )
        except InvalidStatus as exc:
            raise RuntimeError(f"refused: {exc.response.body!r}") from exc
        self.peer = (await _json(self.citizen, "welcome"))["peer"]
        self.clerk = await connect(url, additional_headers=clerk_headers, max_size=2**20)
        await _json(self.clerk, "welcome")
        await self.clerk.send(json.dumps({"v": 1, "type": "admit", "peer": self.peer}))
        await _json(self.citizen, "admitted")
        # The clerk learns the citizen is admitted before the first signal counts.
        while True:
            seen = await _json(self.clerk, "peer")
            if seen["peer"] == self.peer and seen["state"] == "admitted":
                break

    async def round_trip(self, sdp: str) -> float:
        assert self.citizen is not None
        assert self.clerk is not None
        started = time.perf_counter()
        await self.citizen.send(json.dumps({"v": 1, "type": "offer", "sdp": sdp}))
        offer = await _json(self.clerk, "offer")
        await self.clerk.send(
            json.dumps({"v": 1, "type": "answer", "sdp": offer["sdp"], "to": offer["peer"]})
        )
        answer = await _json(self.citizen, "answer")
        assert answer["sdp"] == sdp
        return (time.perf_counter() - started) * 1000

    async def close(self) -> None:
        for connection in (self.citizen, self.clerk):
            if connection is not None:
                await connection.close()


SDP = "v=0\r\n" + "a=candidate:1 1 udp 2130706431 192.0.2.1 50000 typ host\r\n" * 30


async def _book_many(
    http: httpx.AsyncClient, slots: list[tuple[str, str, str]], wanted: int
) -> list[tuple[str, str]]:
    """``wanted`` confirmed bookings, the first ones of the first slots (a slot another
    service's booking took meanwhile is passed over)."""
    booked: list[tuple[str, str]] = []
    position = 0
    while len(booked) < wanted:
        if position >= len(slots):
            raise RuntimeError(f"only {len(booked)} bookings of {len(slots)} slots")
        chunk = slots[position : position + min(5, wanted - len(booked))]
        position += len(chunk)
        made = await asyncio.gather(*(_book(http, *slot) for slot in chunk))
        booked.extend(b for b in made if b is not None)
    return booked


class Documents:
    """Documents in a process of its own (bench/rooms/documents_process.py)."""

    def __init__(self, settings: Any, port: int, trace: Path | None) -> None:
        environment = dict(os.environ)
        if trace is not None:
            environment["RATHAUS_BENCH_TRACE"] = str(trace)
        self.trace = trace
        self.snapshots = 0
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "documents_process.py")],
            stdin=subprocess.PIPE,
            env=environment,
        )
        assert self.process.stdin is not None
        self.process.stdin.write(
            pickle.dumps(settings.model_copy(update={"port": port, "log_level": "WARNING"}))
        )
        self.process.stdin.close()
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(self.url + "/livez", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("documents did not start")
            time.sleep(0.1)
        self.psutil = psutil.Process(self.process.pid)

    def memory(self) -> dict[str, float]:
        info = self.psutil.memory_full_info()
        return {"rss_kib": info.rss / 1024, "uss_kib": info.uss / 1024}

    def snapshot(self) -> tracemalloc.Snapshot:
        """Documents' allocations now (its signal handler writes them)."""
        assert self.trace is not None
        path = Path(f"{self.trace}-{self.snapshots}.snap")
        self.snapshots += 1
        self.process.send_signal(signal.SIGUSR1)
        while not path.exists():
            time.sleep(0.1)
        return tracemalloc.Snapshot.load(str(path))

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


async def _idle_socket(documents: str, booking_id: str, manage_token: str) -> ClientConnection:
    """A citizen straight at documents, waiting to be admitted."""
    url = documents.replace("http://", "ws://", 1) + CALL.format(booking_id)
    # A loaded machine (other work on the cores) may take long to answer an upgrade.
    connection = await connect(
        url, additional_headers={"X-Manage-Token": manage_token}, open_timeout=120
    )
    await _json(connection, "welcome")
    return connection


def _grown(
    before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, sockets: int
) -> list[dict[str, Any]]:
    """The allocation sites that grew most, per socket."""
    top = after.compare_to(before, "lineno")[:15]
    return [
        {
            "where": f"{Path(stat.traceback[0].filename).name}:{stat.traceback[0].lineno}",
            "file": stat.traceback[0].filename.split("site-packages/")[-1].removeprefix(str(ROOT)),
            "bytes_per_socket": round(stat.size_diff / sockets),
            "blocks_per_socket": round(stat.count_diff / sockets, 2),
        }
        for stat in top
    ]


async def _rounds(rooms: list[Room], sdp: str) -> tuple[int, int]:
    """One round trip per room, each within 30 s: (done, failed)."""
    results = await asyncio.gather(
        *(asyncio.wait_for(r.round_trip(sdp), 30) for r in rooms), return_exceptions=True
    )
    failed = sum(isinstance(r, BaseException) for r in results)
    return len(results) - failed, failed


async def main(
    rooms_wanted: int,
    rounds: int,
    idle_steps: list[int],
    hold_s: float,
    backend: str,
    trace: bool,
) -> dict[str, Any]:
    idle_max = max(idle_steps, default=0)
    with tempfile.TemporaryDirectory() as tmp:
        registry = DatabaseRegistry(tmp_dir=Path(tmp))
        port = free_port()
        system = await start_system(
            registry,
            backend,
            Path(tmp) / "blobs",
            overrides={
                "identity": {"access_token_ttl_s": 3600},
                "gateway": {
                    "route_classes": [
                        {"name": "default", "max_body_bytes": 1 << 20, "timeout_s": 30}
                    ],
                    "health_interval_s": 0,
                    # The documents of the benchmark's own process, not the in-thread one.
                    "documents_url": f"http://127.0.0.1:{port}",
                },
                "documents": {"call_sockets_max": 2 * rooms_wanted + idle_max + 10},
                # Anonymous bookings confirm at once (no double opt-in mail to follow).
                "booking": {
                    "live_holds_per_address": 10_000,
                    "tenant_mail": {TENANT: {"double_opt_in": False}},
                },
            },
        )
        documents: Documents | None = None
        try:
            app: Any = system.servers[2].server.config.app
            documents = Documents(
                app.state.settings, port, Path(tmp) / "documents" if trace else None
            )
            async with httpx.AsyncClient(base_url=system.gateway, timeout=60) as http:
                admin = await _login(http, ADMIN)
                clerk = await _login(http, CLERK)
                me = (await http.get("/identity/v1/me", headers=clerk)).json()["id"]
                offices = (await http.get(f"/booking/v1/tenants/{TENANT}/offices")).json()
                office = offices["items"][0]
                service = str(office["services"][0]["service_id"])
                await http.put(
                    f"/booking/v1/tenants/{TENANT}/offices/{office['id']}/staff/{me}",
                    headers=admin,
                )
                wanted = rooms_wanted + idle_max
                slots = await _slots(http, office["id"], service, wanted + wanted // 2 + 20)
                # The clerk's rooms in the clerk's office; the idle citizens anywhere.
                booked = await _book_many(http, slots, wanted)
            await _move_to_now(system.booking_database_url, [b for b, _ in booked])
            ws = system.gateway.replace("http://", "ws://", 1)
            rooms = [Room(b, t) for b, t in booked[:rooms_wanted]]
            for chunk in range(0, len(rooms), 20):
                await asyncio.gather(*(r.open(ws, clerk) for r in rooms[chunk : chunk + 20]))

            trips: list[float] = []
            for _ in range(rounds):
                trips.extend(await asyncio.gather(*(r.round_trip(SDP) for r in rooms)))
            trips.sort()

            # Idle sockets: citizens of bookings of their own, waiting to be admitted.
            await asyncio.sleep(2)
            memory: list[dict[str, float]] = [{"idle_sockets": 0, **documents.memory()}]
            snapshots = [documents.snapshot()] if trace else []
            idle: list[ClientConnection] = []
            waiting = booked[rooms_wanted:]
            for step in sorted(idle_steps):
                while len(idle) < step:
                    batch = waiting[len(idle) : min(step, len(idle) + 5)]
                    idle.extend(
                        await asyncio.gather(*(_idle_socket(documents.url, *b) for b in batch))
                    )
                await asyncio.sleep(2)
                memory.append({"idle_sockets": step, **documents.memory()})
                if trace:
                    snapshots.append(documents.snapshot())
            for row, previous in zip(memory[1:], memory, strict=False):
                sockets = row["idle_sockets"]
                row["rss_per_socket_kib"] = (row["rss_kib"] - memory[0]["rss_kib"]) / sockets
                row["uss_per_socket_kib"] = (row["uss_kib"] - memory[0]["uss_kib"]) / sockets
                row["uss_per_socket_since_previous_kib"] = (
                    row["uss_kib"] - previous["uss_kib"]
                ) / (sockets - previous["idle_sockets"])
            grown: dict[str, Any] = {}
            if trace and idle_max:
                traced = snapshots[-1].compare_to(snapshots[0], "filename")
                grown = {
                    "traced_bytes_per_socket": round(
                        sum(stat.size_diff for stat in traced) / idle_max
                    ),
                    "top": _grown(snapshots[0], snapshots[-1], idle_max),
                }

            # Hold: rooms and idle sockets open, a round trip per room every 30 s.
            done = failed = 0
            held_from = time.monotonic()
            while time.monotonic() - held_from < hold_s:
                await asyncio.sleep(min(30.0, hold_s))
                ok, bad = await _rounds(rooms, "v=0 still here")
                done, failed = done + ok, failed + bad
            held_s = time.monotonic() - held_from
            held = [c for r in rooms for c in (r.citizen, r.clerk) if c is not None] + idle
            closed = sum(c.state is not State.OPEN for c in held)
            documents_alive = documents.process.poll() is None
            for connection in idle:
                await connection.close()
            for room in rooms:
                await room.close()
        finally:
            if documents is not None:
                documents.stop()
            system.stop()
    return {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}, Python "
        f"{platform.python_version()}, {backend}",
        "rooms": rooms_wanted,
        "round_trips": len(trips),
        "round_trip_ms": {
            "p50": round(statistics.median(trips), 2),
            "p99": round(trips[int(len(trips) * 0.99) - 1], 2),
            "max": round(trips[-1], 2),
        }
        if trips
        else None,
        "documents_memory": [{k: round(v, 1) for k, v in row.items()} for row in memory],
        **({"documents_traced": grown} if trace else {}),
        "hold": {
            "held_s": round(held_s, 1),
            "sockets": len(held),
            "sockets_closed": closed,
            "round_trips": done + failed,
            "round_trips_lost": failed,
            "documents_alive": documents_alive,
        },
    }


async def _login(http: httpx.AsyncClient, credentials: dict[str, str]) -> dict[str, str]:
    answer = await http.post("/identity/v1/auth/login", json=credentials)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rooms", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument(
        "--idle", default="500,2000", help="idle socket counts to measure, beside 0"
    )
    parser.add_argument("--hold-s", type=float, default=600.0)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--trace", action="store_true", help="tracemalloc in documents")
    args = parser.parse_args()
    steps = [int(n) for n in args.idle.split(",") if n.strip()]
    figures = asyncio.run(
        main(args.rooms, args.rounds, steps, args.hold_s, args.backend, args.trace)
    )
    out = HERE / ("results-trace.json" if args.trace else "results.json")
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
