"""Booking benchmark: availability under load, and contended booking vs. pgbench.

    .venv/bin/python bench/booking/run.py [--duration 10] [--no-write]
        [--server postgresql://postgres@127.0.0.1:5432/postgres]

Installs wrk and pgbench with apt-get when missing. Creates a throwaway PostgreSQL database,
migrates it, fills it with bench/booking/fixtures.py, starts the booking service (one uvicorn
worker, ``rathaus-booking serve``) on a loopback port and measures:

(a) availability of one office with 10 counters, 5 services and a 60-day window (a third of
    its seats booked): ``/availability/days`` for a month and ``/availability/slots`` for a
    day, against ``/livez`` of the same process in the same run (wrk, one thread; 16
    connections for throughput, 1 connection for latency): req/s, p50, p99 and the ratio;
(b) contended booking: 32 clients race through the service for the same slots of an office
    with 3 counters (each client tries every slot in order: hold, then confirm); confirmed
    bookings/s, against pgbench with 32 clients in the same database running the same
    booking in SQL (the statements of a hold and its confirmation, in the same transactions,
    on the same tables), and the minimal one-table insert + update that stood in for it
    before. Afterwards SQL checks that no slot holds more claims or bookings than counters.

Then writes the figures between the markers in bench/booking/README.md. The database and every
process it started are removed/stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BIN = ROOT / ".venv" / "bin"
README = HERE / "README.md"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
BERLIN = ZoneInfo("Europe/Berlin")
CLIENTS = 32
CONTENDED_SLOTS = 120
CONTENDED_CAPACITY = 3
PGBENCH_UNITS = CONTENDED_SLOTS * 5  # per client: long enough a run to measure
PGBENCH_FIRST_DAY = 30  # the races of the service use days 1-5 and 20-24
REPLICAS = (1, 2)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_tools() -> None:
    missing = [tool for tool in ("wrk", "pgbench") if shutil.which(tool) is None]
    if missing and os.geteuid() == 0:
        packages = {"wrk": "wrk", "pgbench": "postgresql-client"}
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", *(packages[t] for t in missing)], check=False
        )
    for tool in ("wrk", "pgbench"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed (apt-get install wrk postgresql-client)")


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, connections: int, duration_s: int) -> WrkResult:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration_s}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if p50 is None or p99 is None:
        raise RuntimeError(out)
    return WrkResult(
        rps=rps,
        p50_ms=_ms(*p50.groups()),
        p99_ms=_ms(*p99.groups()),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
    )


def wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    # Generous: on a machine shared with other test runs a start takes over 30 s.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit("the booking service exited; see its output above")
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit("the booking service did not become ready")


class Connection:
    """A minimal keep-alive HTTP/1.1 client: httpx would spend more CPU than the service."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        payload = json.dumps(body).encode()
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
            "Content-Type: application/json\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
            + f"Content-Length: {len(payload)}\r\n\r\n"
        )
        self.writer.write(head.encode() + payload)
        status_line = await self.reader.readline()
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        data = await self.reader.readexactly(length) if length else b"{}"
        return int(status_line.split()[1]), json.loads(data)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()


async def contended(
    ports: list[int], fixture: dict[str, Any], slots: list[datetime], label: str = "race"
) -> dict[str, Any]:
    """32 clients, each trying every slot in order (hold, then confirm); bookings per second.

    With several replicas of the service, the clients are spread over them evenly. Every
    booking has an e-mail address of its own (the label keeps warm-up and race apart), so the
    per-address cap on open bookings never refuses one.
    """
    counts = {"confirmed": 0, "hold_409": 0, "confirm_409": 0, "other": 0}

    async def client(number: int) -> None:
        connection = Connection("127.0.0.1", ports[number % len(ports)])
        try:
            for index, start in enumerate(slots):
                status, body = await connection.request(
                    "POST",
                    f"/booking/v1/tenants/{fixture['tenant']}/holds",
                    {
                        "office_id": fixture["engpass"],
                        "service_ids": [fixture["quick"]],
                        "start": start.isoformat(),
                    },
                )
                if status == 409:
                    counts["hold_409"] += 1
                    continue
                if status != 201:
                    counts["other"] += 1
                    continue
                status, _ = await connection.request(
                    "POST",
                    f"/booking/v1/bookings/{body['id']}/confirm",
                    {"name": "Bench", "email": f"{label}-{number}-{index}@bench.example"},
                    {"X-Manage-Token": body["manage_token"]},
                )
                if status == 200:
                    counts["confirmed"] += 1
                elif status == 409:
                    counts["confirm_409"] += 1
                else:
                    counts["other"] += 1
        finally:
            await connection.close()

    began = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(CLIENTS)))
    elapsed = time.perf_counter() - began
    return {**counts, "seconds": elapsed, "per_s": counts["confirmed"] / elapsed}


MINIMAL_SCRIPT = """\
\set unit :i
\set i :i + 1
INSERT INTO bench_claims (unit, seat, client_id, confirmed)
  SELECT :unit, s, :client_id, false FROM generate_series(0, {capacity} - 1) AS s
  WHERE NOT EXISTS (SELECT 1 FROM bench_claims c WHERE c.unit = :unit AND c.seat = s)
  ORDER BY s LIMIT 1
  ON CONFLICT DO NOTHING;
UPDATE bench_claims SET confirmed = true WHERE unit = :unit AND client_id = :client_id;
"""
"""The earlier stand-in: a one-table conditional insert and an update, each in autocommit."""

_TAKE_SEAT = """\
WITH taken AS (
  INSERT INTO slot_claims (office_id, unit_start, seat, booking_id, expires_at)
  SELECT CAST('{office}' AS uuid), to_timestamp(:start_s), s, CAST(:booking AS uuid),
         now() + interval '10 minutes'
  FROM generate_series(0, {capacity} - 1) AS s
  WHERE NOT EXISTS (SELECT 1 FROM slot_claims c WHERE c.office_id = CAST('{office}' AS uuid)
                    AND c.unit_start = to_timestamp(:start_s) AND c.seat = s)
  ORDER BY s LIMIT 1
  ON CONFLICT DO NOTHING RETURNING seat)
SELECT count(*) AS won FROM taken \gset"""

# The e-mail address of a client's booking of a unit, as the race's clients give one each.
_EMAIL = "'pgbench-' || CAST(:client_id AS text) || '-' || CAST(:unit AS text) || '@bench.example'"

SAME_BOOKING_SCRIPT = (
    r"""\set unit :i
\set i :i + 1
\set start_s {t0} + 600 * :unit
BEGIN;
SELECT count(*) AS live FROM slot_claims WHERE office_id = CAST('{office}' AS uuid)
  AND unit_start = to_timestamp(:start_s) AND (expires_at IS NULL OR expires_at > now()) \gset
\if :live < {capacity}
INSERT INTO bookings (id, tenant, office_id, code, status, starts_at, ends_at, hold_expires_at,
                      manage_token_hash, language, created_at)
  VALUES (gen_random_uuid(), '{tenant}', CAST('{office}' AS uuid),
          upper(substr(md5(random()::text), 1, 9)), 'held', to_timestamp(:start_s),
          to_timestamp(:start_s + 600), now() + interval '10 minutes',
          md5(random()::text) || md5(random()::text), 'de', now())
  RETURNING id AS booking \gset
INSERT INTO booking_items (booking_id, position, service_id, duration_minutes)
  VALUES (CAST(:booking AS uuid), 0, CAST('{service}' AS uuid), 10);
"""
    + _TAKE_SEAT
    + "\n\\if :won = 0\n"
    + _TAKE_SEAT
    + "\n\\endif\n\\if :won = 0\n"
    + _TAKE_SEAT
    + r"""
\endif
\if :won = 1
COMMIT;
BEGIN;
SELECT b.id, b.status, b.hold_expires_at, i.service_id
  FROM bookings b LEFT OUTER JOIN booking_items i ON b.id = i.booking_id
  WHERE b.id = CAST(:booking AS uuid) ORDER BY i.position FOR UPDATE OF b;
SELECT pg_advisory_xact_lock(hashtextextended(
  concat_ws(':', 'booking-owner', '{tenant}', 'email', EMAIL), 0));
SELECT i.service_id, count(DISTINCT b.id) FROM booking_items i
  JOIN bookings b ON b.id = i.booking_id
  WHERE b.tenant = '{tenant}' AND b.status = 'confirmed' AND b.starts_at > now()
    AND b.id != CAST(:booking AS uuid) AND i.service_id IN (CAST('{service}' AS uuid))
    AND (b.citizen_subject = NULL OR b.email = EMAIL)
  GROUP BY i.service_id;
UPDATE slot_claims SET expires_at = NULL WHERE booking_id = CAST(:booking AS uuid)
  AND expires_at IS NOT NULL AND expires_at > now();
UPDATE bookings SET status = 'confirmed', hold_expires_at = NULL, name = 'Bench',
  email = EMAIL, phone = NULL, confirmed_at = now()
  WHERE id = CAST(:booking AS uuid);
COMMIT;
\else
ROLLBACK;
\endif
\else
ROLLBACK;
\endif
"""
).replace("EMAIL", _EMAIL)
"""What the service sends PostgreSQL for one hold and its confirmation, in the same
transactions and against the same tables (statement by statement as SQLAlchemy logs them): read
the unit's seats; when one is free, insert the booking and its item and take a seat (trying
the next one after a lost conflict, as the service does, at most once per seat); then lock the
booking, take the e-mail's advisory lock, count its open bookings of the service, make the
seat permanent and write the contact data. A full unit ends with a rollback. pgbench runs it
with prepared statements, as asyncpg does. Its variables: the unit number per client, from 0."""


def pgbench(dsn_params: dict[str, str], script_text: str, units: int, mode: str) -> float:
    """Run ``script_text`` for 32 clients, each on ``units`` units in order; the seconds taken."""
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(script_text)
    try:
        began = time.perf_counter()
        subprocess.run(
            [
                "pgbench",
                "-n",
                "-h",
                dsn_params["host"],
                "-p",
                dsn_params["port"],
                "-U",
                dsn_params["user"],
                "-c",
                str(CLIENTS),
                "-j",
                "2",
                "-t",
                str(units),
                "-M",
                mode,
                "-D",
                "i=0",
                "-f",
                script.name,
                dsn_params["database"],
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return time.perf_counter() - began
    finally:
        os.unlink(script.name)


async def sql(dsn: str, query: str) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(dsn)
    try:
        return list(await connection.fetch(query))
    finally:
        await connection.close()


def prepare_database(env: dict[str, str], url: str, dsn: str) -> dict[str, Any]:
    """Migrate the empty database, fill it with fixtures.py, gather statistics; the fixture."""
    subprocess.run([str(BIN / "rathaus-booking"), "migrate"], env=env, check=True)
    fixture: dict[str, Any] = json.loads(
        subprocess.run(
            [str(BIN / "python"), str(HERE / "fixtures.py"), url],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    # Statistics for the bulk-loaded rows, as autovacuum would gather them within a minute:
    # without them PostgreSQL plans every query as if the tables were empty.
    asyncio.run(sql(dsn, "ANALYZE"))
    return fixture


def next_month(today: date) -> str:
    first = date(today.year + (today.month == 12), today.month % 12 + 1, 1)
    return first.strftime("%Y-%m")


def contended_slots(now: datetime, first_day: int, count: int = CONTENDED_SLOTS) -> list[datetime]:
    slots: list[datetime] = []
    day = now.astimezone(BERLIN).date() + timedelta(days=first_day)
    while len(slots) < count:
        start = datetime.combine(day, datetime.min.time().replace(hour=8), tzinfo=BERLIN)
        for n in range(60):
            slots.append((start + timedelta(minutes=10 * n)).astimezone(UTC))
        day += timedelta(days=1)
    return slots[:count]


def _cpu_seconds_of(pid: int) -> float | None:
    """User + system CPU seconds of a running process (None once it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


class CpuMeter:
    """CPU seconds spent while it runs, by the service's processes, by PostgreSQL (every
    process named postgres; its backends come and go, so they are polled every 0.2 s), by the
    clients (this process, and child processes that ended meanwhile, such as pgbench) and by
    the whole machine (busy: neither idle nor waiting for I/O)."""

    def __init__(self, service_pids: list[int]) -> None:
        self.service_pids = service_pids
        self.spent: dict[str, float] = {}
        self._postgres: dict[int, tuple[float, float]] = {}  # pid: (first seen, last seen)
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll_until_stopped, daemon=True)

    def _poll_postgres(self, *, initial: bool = False) -> None:
        for pid in _postgres_pids():
            seconds = _cpu_seconds_of(pid)
            if seconds is not None:
                first, _ = self._postgres.get(pid, (seconds if initial else 0.0, 0.0))
                self._postgres[pid] = (first, seconds)

    def _poll_until_stopped(self) -> None:
        while not self._stop.wait(0.2):
            self._poll_postgres()

    def _totals(self) -> dict[str, float]:
        ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        own = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return {
            "service": sum(_cpu_seconds_of(pid) or 0.0 for pid in self.service_pids),
            "clients": own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime,
            "machine": (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK"),
        }

    def __enter__(self) -> CpuMeter:
        self._poll_postgres(initial=True)
        self._before = self._totals()
        self._poller.start()
        return self

    def __exit__(self, *_: object) -> None:
        after = self._totals()
        self._stop.set()
        self._poller.join()
        self._poll_postgres()
        self.spent = {name: after[name] - self._before[name] for name in after}
        self.spent["postgres"] = sum(last - first for first, last in self._postgres.values())


Starter = Callable[[dict[str, str]], tuple[subprocess.Popen[bytes], int]]


def contended_figures(
    start: Starter, fixture: dict[str, Any], now: datetime, dsn: str, params: dict[str, str]
) -> dict[str, Any]:
    """(b): the service's race (one replica, then two, each on slots of its own days), then
    pgbench's, then the overbooking checks in SQL."""
    service_runs: dict[int, dict[str, Any]] = {}
    for offset, replicas in enumerate(REPLICAS):
        started = [start({}) for _ in range(replicas)]
        try:
            ports, pids = [port for _, port in started], [process.pid for process, _ in started]
            # A short race on days of its own first, as a running service would be: pools
            # filled, statements prepared, the tenant's snapshot loaded.
            asyncio.run(
                contended(ports, fixture, contended_slots(now, 20 + 3 * offset, 30), "warm")
            )
            slots = contended_slots(now, first_day=1 + 3 * offset)
            with CpuMeter(pids) as meter:
                service_runs[replicas] = asyncio.run(contended(ports, fixture, slots))
            service_runs[replicas]["cpu"] = meter.spent
        finally:
            for process, _ in started:
                process.terminate()
                process.wait(timeout=30)
    # pgbench, the same booking: on units of days no race of the service touched.
    t0 = int((now + timedelta(days=PGBENCH_FIRST_DAY)).timestamp()) // 600 * 600
    same_script = SAME_BOOKING_SCRIPT.format(
        t0=t0,
        office=fixture["engpass"],
        service=fixture["quick"],
        tenant=fixture["tenant"],
        capacity=CONTENDED_CAPACITY,
    )
    with CpuMeter([]) as meter:
        seconds = pgbench(params, same_script, PGBENCH_UNITS, "prepared")
    confirmed = asyncio.run(
        sql(
            dsn,
            "SELECT count(*) AS n FROM bookings WHERE status = 'confirmed' "
            f"AND office_id = '{fixture['engpass']}' AND starts_at >= to_timestamp({t0})",
        )
    )[0]["n"]
    same = {"seconds": seconds, "confirmed": confirmed, "per_s": confirmed / seconds}
    same["cpu"] = meter.spent

    # pgbench, the minimal stand-in of earlier runs, in a table of its own.
    asyncio.run(
        sql(
            dsn,
            "CREATE TABLE bench_claims (unit int, seat int, client_id int, "
            "confirmed bool, PRIMARY KEY (unit, seat))",
        )
    )
    minimal_units = CONTENDED_SLOTS * 10
    with CpuMeter([]) as meter:
        seconds = pgbench(
            params, MINIMAL_SCRIPT.format(capacity=CONTENDED_CAPACITY), minimal_units, "simple"
        )
    confirmed = asyncio.run(sql(dsn, "SELECT count(*) AS n FROM bench_claims WHERE confirmed"))[0][
        "n"
    ]
    minimal = {"seconds": seconds, "confirmed": confirmed, "per_s": confirmed / seconds}
    minimal["cpu"] = meter.spent
    overbooked_claims = asyncio.run(
        sql(
            dsn,
            "SELECT c.office_id, c.unit_start, count(*) FROM slot_claims c "
            "JOIN offices o ON o.id = c.office_id "
            "GROUP BY c.office_id, c.unit_start, o.counters HAVING count(*) > o.counters",
        )
    )
    overbooked_bookings = asyncio.run(
        sql(
            dsn,
            "SELECT b.office_id, b.starts_at, count(*) FROM bookings b "
            "JOIN offices o ON o.id = b.office_id WHERE b.status = 'confirmed' "
            f"AND b.office_id = '{fixture['engpass']}' "
            "GROUP BY b.office_id, b.starts_at, o.counters HAVING count(*) > o.counters",
        )
    )
    pgbench_overbooked = asyncio.run(
        sql(
            dsn,
            f"SELECT unit FROM bench_claims GROUP BY unit HAVING count(*) > {CONTENDED_CAPACITY}",
        )
    )
    return {
        "service": service_runs,
        "same": same,
        "minimal": minimal,
        "minimal_units": minimal_units,
        "overbooked_claims": len(overbooked_claims),
        "overbooked_bookings": len(overbooked_bookings),
        "pgbench_overbooked": len(pgbench_overbooked),
    }


def contended_lines(race: dict[str, Any]) -> list[str]:
    same, minimal = race["same"], race["minimal"]
    lines = [
        f"(b) Contended booking: {CLIENTS} clients, {CONTENDED_SLOTS} slots x "
        f"{CONTENDED_CAPACITY} counters, each client tries every slot in order",
        "",
        "| path | confirmed | seconds | confirmed/s | ratio to pgbench, same booking | "
        "ratio to pgbench, minimal | lost holds (409) | lost confirmations | other answers |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for replicas, run in race["service"].items():
        lines.append(
            f"| service, {replicas} process{'es' if replicas > 1 else ''} (HTTP hold + confirm) | "
            f"{run['confirmed']} | {run['seconds']:.2f} | {run['per_s']:.0f} | "
            f"{run['per_s'] / same['per_s']:.2f} | {run['per_s'] / minimal['per_s']:.2f} | "
            f"{run['hold_409']} | {run['confirm_409']} | {run['other']} |"
        )
    lines += [
        f"| pgbench, the same booking in SQL ({PGBENCH_UNITS} units, prepared) | "
        f"{same['confirmed']} | {same['seconds']:.2f} | {same['per_s']:.0f} | 1.00 | | | | |",
        f"| pgbench, minimal one-table insert + update ({race['minimal_units']} units) | "
        f"{minimal['confirmed']} | {minimal['seconds']:.2f} | {minimal['per_s']:.0f} | | 1.00 "
        "| | | |",
        "",
        "CPU per confirmed booking during each run (ms; service: its processes, PostgreSQL: "
        "all its processes, clients: this script's 32 clients or pgbench; machine: share of "
        f"the {os.cpu_count()} CPUs busy):",
        "",
        "| path | service | PostgreSQL | clients | machine busy |",
        "|---|---:|---:|---:|---:|",
    ]
    runs = [
        (f"service, {replicas} process{'es' if replicas > 1 else ''}", run)
        for replicas, run in race["service"].items()
    ]
    for name, run in [*runs, ("pgbench, same booking", same), ("pgbench, minimal", minimal)]:
        cpu, confirmed = run["cpu"], max(run["confirmed"], 1)
        service = f"{cpu['service'] / confirmed * 1000:.1f}" if name.startswith("service") else ""
        lines.append(
            f"| {name} | {service} | {cpu['postgres'] / confirmed * 1000:.1f} | "
            f"{cpu['clients'] / confirmed * 1000:.1f} | "
            f"{cpu['machine'] / run['seconds'] / (os.cpu_count() or 1):.0%} |"
        )
    return [
        *lines,
        "",
        f"Overbooked (SQL, after the run; the service's and the same-booking pgbench's claims "
        f"and bookings): slot units over capacity: {race['overbooked_claims']}, confirmed "
        f"bookings over capacity: {race['overbooked_bookings']}; minimal pgbench's units over "
        f"capacity: {race['pgbench_overbooked']}.",
    ]


def write_readme(text: str) -> None:
    readme = README.read_text(encoding="utf-8")
    head, _, rest = readme.partition(BEGIN)
    _, _, tail = rest.partition(END)
    README.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument(
        "--contended-only",
        action="store_true",
        help="run only (b), print its figures and write nothing",
    )
    args = parser.parse_args()
    ensure_tools()

    server = httpx.URL(args.server)
    database = f"rathaus_bench_booking_{uuid.uuid4().hex[:8]}"
    admin_dsn = args.server
    dsn = str(server.copy_with(path=f"/{database}"))
    url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
    params = {
        "host": server.host,
        "port": str(server.port or 5432),
        "user": server.username or "postgres",
        "database": database,
    }
    asyncio.run(sql(admin_dsn, f'CREATE DATABASE "{database}"'))
    process: subprocess.Popen[bytes] | None = None
    try:
        env = {
            **os.environ,
            "BOOKING_DATABASE_URL": url,
            "BOOKING_LOG_LEVEL": "WARNING",
            "BOOKING_DATABASE_POOL_SIZE": "20",
            # The clients book anonymously in the fixtures' tenant and confirm at once.
            "BOOKING_TENANT_MAIL": json.dumps({"06999001": {"double_opt_in": False}}),
        }
        fixture = prepare_database(env, url, dsn)

        def start(extra: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
            port = free_port()
            started = subprocess.Popen(
                [str(BIN / "rathaus-booking"), "serve"],
                env={**env, "BOOKING_PORT": str(port), **extra},
            )
            wait_ready(f"http://127.0.0.1:{port}", started)
            return started, port

        now = datetime.now(UTC)
        if args.contended_only:
            print("\n".join(contended_lines(contended_figures(start, fixture, now, dsn, params))))
            return
        process, port = start({})
        base = f"http://127.0.0.1:{port}"

        tenant = fixture["tenant"]
        services = fixture["services"]
        month = next_month(now.astimezone(BERLIN).date())
        day = (now.astimezone(BERLIN).date() + timedelta(days=7)).isoformat()
        paths = {
            "livez (trivial)": "/livez",
            "availability/days (month, 1 service)": (
                f"/booking/v1/tenants/{tenant}/availability/days"
                f"?service_id={services[2]}&month={month}"
            ),
            "availability/days (month, 2 services)": (
                f"/booking/v1/tenants/{tenant}/availability/days"
                f"?service_id={services[1]}&service_id={services[3]}&month={month}"
            ),
            "availability/slots (day, 1 service)": (
                f"/booking/v1/tenants/{tenant}/availability/slots"
                f"?service_id={services[2]}&date={day}"
            ),
        }
        for path in paths.values():
            wrk(base + path, 4, 2)  # warm-up
        wide = {name: wrk(base + path, 16, args.duration) for name, path in paths.items()}
        narrow = {name: wrk(base + path, 1, args.duration) for name, path in paths.items()}
        process.terminate()
        process.wait(timeout=30)

        # The same without the answer micro-cache: every request computes from the database.
        process, port = start({"BOOKING_AVAILABILITY_CACHE_SECONDS": "0"})
        base = f"http://127.0.0.1:{port}"
        for path in paths.values():
            wrk(base + path, 4, 2)
        uncached = {
            name: (wrk(base + path, 16, args.duration), wrk(base + path, 1, args.duration))
            for name, path in paths.items()
        }

        process.terminate()
        process.wait(timeout=30)
        process = None
        race = contended_figures(start, fixture, now, dsn, params)
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
        asyncio.run(sql(admin_dsn, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))

    trivial = wide["livez (trivial)"]
    lines = [
        f"Run {now:%Y-%m-%d %H:%M} UTC on {os.cpu_count()} CPUs, PostgreSQL, one uvicorn worker; "
        f"{fixture['prebooked']} bookings pre-filled in the 60-day window.",
        "",
        "(a) Availability (wrk, 1 thread, "
        f"{args.duration}s each; ratio = req/s of the endpoint / req/s of livez at 16 connections)",
        "",
        "| endpoint | req/s (16 conn) | p50 | p99 | ratio | p50 (1 conn) | p99 (1 conn) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, result in wide.items():
        single = narrow[name]
        lines.append(
            f"| {name} | {result.rps:.0f} | {result.p50_ms:.1f} ms | {result.p99_ms:.1f} ms | "
            f"{result.rps / trivial.rps:.2f} | {single.p50_ms:.1f} ms | {single.p99_ms:.1f} ms |"
        )
    lines += [
        "",
        "Without the answer micro-cache (BOOKING_AVAILABILITY_CACHE_SECONDS=0; the tenant's "
        "static data stays cached):",
        "",
        "| endpoint | req/s (16 conn) | p50 | p99 | ratio | p50 (1 conn) | p99 (1 conn) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    uncached_trivial = uncached["livez (trivial)"][0]
    for name, (result, single) in uncached.items():
        lines.append(
            f"| {name} | {result.rps:.0f} | {result.p50_ms:.1f} ms | {result.p99_ms:.1f} ms | "
            f"{result.rps / uncached_trivial.rps:.2f} | {single.p50_ms:.1f} ms | "
            f"{single.p99_ms:.1f} ms |"
        )
    errors = sum(
        r.non_2xx
        for r in [
            *wide.values(),
            *narrow.values(),
            *(x for pair in uncached.values() for x in pair),
        ]
    )
    lines += [
        "",
        f"Non-2xx answers during (a): {errors}.",
        "",
        *contended_lines(race),
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_readme(text)


if __name__ == "__main__":
    main()
