"""Video call signalling through the gateway: round trips at many concurrent rooms, memory per
idle socket, rooms held open without loss.

    .venv/bin/python bench/rooms/run.py [--rooms 200] [--rounds 20] [--hold-s 600]

Starts a whole Rathaus on loopback in this process (tests/live_rathaus.py: identity, booking,
documents and the gateway, each a real uvicorn server on SQLite), books ``--rooms`` appointments
through booking's API (anonymous holds, each confirmed with its own address) and moves them to
now in booking's database, as the call tests do. Per room the citizen (manage link) and the
clerk (a real token) open the call's WebSocket through the gateway and the clerk admits the
citizen. Then:

- round trip: in every room at once, ``--rounds`` times, the citizen sends an offer, the clerk
  answers it, and the citizen's clock runs from sending the offer to receiving the answer
  (four hops through the gateway, two through documents' relay);
- memory: the process's RSS before and after ``--rooms`` more citizens open a socket and wait
  (idle), per socket. Client and servers share the process, so this is an upper bound for the
  servers' part;
- hold: every room stays open for ``--hold-s`` seconds with a signal every 30 s per room; a room
  is lost when a socket closes or a signal does not arrive.

Prints the figures as JSON and writes them to ``results.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
from sqlalchemy import update
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from booking.bookings.models import Booking  # noqa: E402
from servicekit.db import create_engine  # noqa: E402
from servicekit.testing.plugin import DatabaseRegistry  # noqa: E402
from tests.live_rathaus import ADMIN, CLERK, TENANT, start_system  # noqa: E402

HERE = Path(__file__).resolve().parent
CALL = "/documents/v1/bookings/{}/room/call"


async def _json(connection: ClientConnection, kind: str) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = json.loads(await connection.recv())
        if message["type"] == kind:
            return message


async def _slots(http: httpx.AsyncClient, office: str, service: str, wanted: int) -> list[str]:
    where = {"service_id": service, "office_id": office}
    found: list[str] = []
    for months_ahead in range(3):
        month = (date.today() + timedelta(days=31 * months_ahead)).strftime("%Y-%m")
        days = await http.get(
            f"/booking/v1/tenants/{TENANT}/availability/days", params={**where, "month": month}
        )
        for day in days.json()["days"]:
            slots = await http.get(
                f"/booking/v1/tenants/{TENANT}/availability/slots",
                params={**where, "date": day["date"]},
            )
            found.extend(slot["start"] for slot in slots.json()["slots"])
            if len(found) >= wanted:
                return found[:wanted]
    raise RuntimeError(f"only {len(found)} free slots")


async def _book(http: httpx.AsyncClient, office: str, service: str, start: str) -> tuple[str, str]:
    held = await http.post(
        f"/booking/v1/tenants/{TENANT}/holds",
        json={"office_id": office, "service_ids": [service], "start": start},
    )
    assert held.status_code == 201, held.text
    token = held.json()["manage_token"]
    confirmed = await http.post(
        f"/booking/v1/bookings/{held.json()['id']}/confirm",
        json={"name": "Erika Mustermann", "email": f"e.{uuid.uuid4().hex[:12]}@example.org"},
        headers={"X-Manage-Token": token},
    )
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


async def main(rooms_wanted: int, rounds: int, hold_s: float) -> dict[str, Any]:
    process = psutil.Process()
    with tempfile.TemporaryDirectory() as tmp:
        registry = DatabaseRegistry(tmp_dir=Path(tmp))
        system = await start_system(
            registry,
            "sqlite",
            Path(tmp) / "blobs",
            overrides={
                "identity": {"access_token_ttl_s": 3600},
                "gateway": {
                    "route_classes": [
                        {"name": "default", "max_body_bytes": 1 << 20, "timeout_s": 30}
                    ],
                    "health_interval_s": 0,
                },
                "documents": {"call_sockets_max": 10 * rooms_wanted + 10},
                # Anonymous bookings confirm at once (no double opt-in mail to follow).
                "booking": {
                    "live_holds_per_address": 10_000,
                    "tenant_mail": {TENANT: {"double_opt_in": False}},
                },
            },
        )
        try:
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
                starts = await _slots(http, office["id"], service, 2 * rooms_wanted)
                booked = [await _book(http, office["id"], service, s) for s in starts]
            await _move_to_now(system.booking_database_url, [b for b, _ in booked])
            ws = system.gateway.replace("http://", "ws://", 1)
            rooms = [Room(b, t) for b, t in booked[:rooms_wanted]]
            for chunk in range(0, len(rooms), 20):
                await asyncio.gather(*(r.open(ws, clerk) for r in rooms[chunk : chunk + 20]))

            trips: list[float] = []
            for _ in range(rounds):
                trips.extend(await asyncio.gather(*(r.round_trip(SDP) for r in rooms)))
            trips.sort()

            # Idle sockets: as many citizens again, waiting to be admitted.
            await asyncio.sleep(1)
            before = process.memory_info().rss
            idle = []
            for b, t in booked[rooms_wanted:]:
                connection = await connect(
                    ws + CALL.format(b), additional_headers={"X-Manage-Token": t}
                )
                await _json(connection, "welcome")
                idle.append(connection)
            await asyncio.sleep(2)
            after = process.memory_info().rss
            per_socket_kib = (after - before) / len(idle) / 1024

            lost = 0
            held_from = time.monotonic()
            while time.monotonic() - held_from < hold_s:
                await asyncio.sleep(min(30.0, hold_s))
                results = await asyncio.gather(
                    *(asyncio.wait_for(r.round_trip("v=0 still here"), 30) for r in rooms),
                    return_exceptions=True,
                )
                lost = max(lost, sum(isinstance(r, BaseException) for r in results))
            for connection in idle:
                await connection.close()
            for room in rooms:
                await room.close()
        finally:
            system.stop()
    return {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}, Python "
        f"{platform.python_version()}, SQLite",
        "rooms": rooms_wanted,
        "round_trips": len(trips),
        "round_trip_ms": {
            "p50": round(statistics.median(trips), 2),
            "p99": round(trips[int(len(trips) * 0.99) - 1], 2),
            "max": round(trips[-1], 2),
        },
        "idle_sockets": len(idle),
        "rss_per_idle_socket_kib": round(per_socket_kib, 1),
        "held_s": hold_s,
        "rooms_lost": lost,
    }


async def _login(http: httpx.AsyncClient, credentials: dict[str, str]) -> dict[str, str]:
    answer = await http.post("/identity/v1/auth/login", json=credentials)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rooms", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--hold-s", type=float, default=600.0)
    args = parser.parse_args()
    figures = asyncio.run(main(args.rooms, args.rounds, args.hold_s))
    (HERE / "results.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
