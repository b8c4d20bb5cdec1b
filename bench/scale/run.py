"""How booking's cost grows with its data: curves, each with the plan of the measured query.

    nice .venv/bin/python bench/scale/run.py [--bookings 10000,100000,1000000]
        [--offices 1,10,100] [--queue 10,100,1000] [--clerks 10] [--erasure 1000,100000]
        [--rounds 200] [--server postgresql://postgres@127.0.0.1:5432/postgres] [--no-write]

Creates a throwaway PostgreSQL database, migrates it (``rathaus-booking migrate``) and builds
one municipality with 100 offices (10 counters each, Monday-Saturday 08:00-18:00, 10-minute
slots, bookable 92 days ahead) offering one 10-minute service, with the service's own code
(``bench/booking/fixtures.py``'s catalogue and hours). Each office has the same 200 bookings
ahead (20 slot units full), whatever the size. Then, per ``--bookings`` size, it grows the
past in bulk SQL (``INSERT ... SELECT generate_series``: bookings over the past year with
their item, their seat and a visit: checked in, called, completed, some rated), runs
``VACUUM ANALYZE`` as autovacuum would, and measures against one ``rathaus-booking serve``
(one uvicorn worker; the availability answer cache off, so every request computes):

- availability for 1, 10 and 100 offices: ``/availability/days`` for each month of the 92-day
  window in turn and ``/availability/slots`` for a day, one connection, p50 / p99;
- KPIs over every visit of the past year (an administrator, every office): p50 / p95.

At the largest size, it measures the queue of an office with 10, 100 and 1,000 citizens
waiting (``GET .../queue`` one at a time, then ``--clerks`` clerks calling at once until nobody
is left; every citizen must be called exactly once) and, in a municipality of its own, the
retention job (``erase_expired``) and erasures on request over 1,000 and 100,000 bookings.

For each measured query it prints ``EXPLAIN (ANALYZE, BUFFERS)`` of the statements the
service sends (captured from SQLAlchemy as they run). Writes the figures between the markers
in bench/scale/README.md unless ``--no-write``. The database and the service are removed /
stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import http.server
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import asyncpg
import httpx
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
README = HERE / "README.md"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# The booking bench's helpers (HTTP client, readiness, SQL) and fixtures (services, hours).
booking_bench = _load("booking_bench", ROOT / "bench" / "booking" / "run.py")
fixtures = _load("booking_fixtures", ROOT / "bench" / "booking" / "fixtures.py")

from booking import models  # noqa: E402, F401 - registers every table
from booking.bookings.repository import BookingRepository  # noqa: E402
from booking.catalogue.repository import ServiceRepository  # noqa: E402
from booking.catalogue.service import CatalogueService  # noqa: E402
from booking.hours.repository import HoursRepository  # noqa: E402
from booking.hours.service import OpeningHours  # noqa: E402
from booking.offices.repository import OfficeRepository  # noqa: E402
from booking.offices.schemas import Address, OfferedService, OfficeIn  # noqa: E402
from booking.offices.service import OfficeDirectory  # noqa: E402
from booking.retention.service import erase_expired  # noqa: E402
from booking.settings import BookingSettings  # noqa: E402
from booking.visits.models import EVERY  # noqa: E402
from booking.visits.repository import KpiDayRepository, VisitRepository  # noqa: E402
from booking.visits.rollup import close_days  # noqa: E402
from servicekit.db import Database  # noqa: E402
from servicekit.testing.tokens import TokenFactory  # noqa: E402

TENANT = fixtures.TENANT
ERASURE_TENANT = "06999002"
OFFICES = 100
COUNTERS = 10
UNITS_PER_DAY = 60  # 08:00-18:00 in 10-minute units
AHEAD_PER_OFFICE = 200
PAST_DAYS = 365
CHUNK = 100_000

# -- the data ------------------------------------------------------------------------------


async def build_static(url: str) -> dict[str, Any]:
    """The municipality's catalogue, offices and hours, through the service's own code."""
    database = Database(url)
    try:
        async with database.sessionmaker() as session, session.begin():
            catalogue = CatalogueService(ServiceRepository(session))
            offices = OfficeDirectory(OfficeRepository(session))
            hours = OpeningHours(HoursRepository(session))
            address = Address(street="Markt 1", postal_code="64283", city="Musterstadt")
            found: dict[str, Any] = {"offices": {}}
            for tenant in (TENANT, ERASURE_TENANT):
                service = await catalogue.create(
                    tenant, fixtures._service("99000000000010", "Personalausweis", 10)
                )
                ids = []
                for number in range(OFFICES if tenant == TENANT else 1):
                    office = await offices.create(
                        tenant,
                        OfficeIn(
                            name=f"Bürgerbüro {number}",
                            address=address,
                            counters=COUNTERS,
                            slot_minutes=10,
                            bookable_until_days=92,
                            services=[OfferedService(service_id=service.id)],
                        ),
                    )
                    await hours.replace(office, fixtures._rules(range(1, 7), with_break=False))
                    ids.append(str(office.id))
                found["offices"][tenant] = ids
                found.setdefault("service", {})[tenant] = str(service.id)
            return found
    finally:
        await database.dispose()


# One row per booking: its office, start and seat (unique per office and unit), made once
# and shared by the four INSERTs (bookings, items, seats, visits) of one statement.
_GROW = """
WITH src AS MATERIALIZED (
    SELECT n, gen_random_uuid() AS id, ($1::uuid[])[n % {offices} + 1] AS office,
        date_trunc('day', $4::timestamptz) - (1 + (n / {offices}) % {days}) * interval '1 day'
            + interval '7 hours'
            + ((n / {offices} / {days}) % {units}) * interval '10 minutes' AS s,
        (n / {offices} / {days} / {units}) AS seat
    FROM generate_series($2::int, $3::int) AS n
), b AS (
    INSERT INTO bookings (id, tenant, office_id, code, status, starts_at, ends_at,
        manage_token_hash, language, created_at, confirmed_at, sequence, walk_in)
    SELECT id, '{tenant}', office, 'P' || lpad(n::text, 8, '0'), 'confirmed', s,
        s + interval '10 minutes', '', 'de', s - interval '7 days', s - interval '7 days', 0,
        false
    FROM src
), i AS (
    INSERT INTO booking_items (booking_id, position, service_id, duration_minutes)
    SELECT id, 0, '{service}', 10 FROM src
), c AS (
    INSERT INTO slot_claims (office_id, unit_start, seat, booking_id, expires_at)
    SELECT office, s, seat, id, NULL FROM src
)
INSERT INTO visits (booking_id, office_id, checked_in_at, called_at, counter, called_by,
    completed_at, resolved, rating, rated_at)
SELECT id, office, s - (n % 15) * interval '1 minute', s + (n % 20) * interval '1 minute',
    'Schalter ' || seat, 'clerk', s + (n % 20 + 4 + n % 9) * interval '1 minute', n % 5 <> 0,
    CASE WHEN n % 3 = 0 THEN 1 + n % 5 END,
    CASE WHEN n % 3 = 0 THEN s + interval '2 hours' END
FROM src
"""

# The same 200 bookings ahead per office: 20 units (on different days) with every seat taken.
_AHEAD = """
WITH src AS MATERIALIZED (
    SELECT o.number, j, gen_random_uuid() AS id, o.id AS office,
        date_trunc('day', $2::timestamptz) + (1 + (j / {counters} * 7) % 90) * interval '1 day'
            + interval '7 hours' + ((j / {counters} * 13) % {units}) * interval '10 minutes' AS s,
        j % {counters} AS seat
    FROM unnest($1::uuid[]) WITH ORDINALITY AS o(id, number),
        generate_series(0, {ahead} - 1) AS j
), b AS (
    INSERT INTO bookings (id, tenant, office_id, code, status, starts_at, ends_at,
        manage_token_hash, language, name, email, created_at, confirmed_at, sequence, walk_in)
    SELECT id, '{tenant}', office, 'A' || lpad((number * {ahead} + j)::text, 8, '0'),
        'confirmed', s, s + interval '10 minutes', '', 'de', 'Erika Mustermann',
        'a' || number || '-' || j || '@example.org', $2, $2, 0, false
    FROM src
), i AS (
    INSERT INTO booking_items (booking_id, position, service_id, duration_minutes)
    SELECT id, 0, '{service}', 10 FROM src
)
INSERT INTO slot_claims (office_id, unit_start, seat, booking_id, expires_at)
SELECT office, s, seat, id, NULL FROM src
"""

# Citizens waiting today at one office: walk-ins (no seat), checked in, not called yet.
_WAITING = """
WITH src AS MATERIALIZED (
    SELECT n, gen_random_uuid() AS id FROM generate_series(1, $2::int) AS n
), b AS (
    INSERT INTO bookings (id, tenant, office_id, code, status, starts_at, ends_at,
        manage_token_hash, language, created_at, confirmed_at, sequence, walk_in)
    SELECT id, '{tenant}', $1::uuid, $3 || lpad(n::text, 6, '0'), 'confirmed',
        $4::timestamptz - (n * interval '1 second'), $4::timestamptz + interval '10 minutes',
        '', 'de', $4, $4, 0, true
    FROM src
)
INSERT INTO visits (booking_id, office_id, checked_in_at)
SELECT id, $1::uuid, $4::timestamptz - (n * interval '1 second') FROM src
"""

# Bookings of citizens that ended long ago, personal data still there: ten per citizen.
_ERASABLE = """
WITH src AS MATERIALIZED (
    SELECT n, gen_random_uuid() AS id,
        $4::timestamptz - interval '400 days' + (n % 20000) * interval '10 minutes' AS s
    FROM generate_series($2::int, $3::int) AS n
), b AS (
    INSERT INTO bookings (id, tenant, office_id, code, status, starts_at, ends_at,
        manage_token_hash, language, name, email, phone, citizen_subject, created_at,
        confirmed_at, sequence, walk_in)
    SELECT id, '{tenant}', $1::uuid, 'E' || lpad(n::text, 8, '0'), 'confirmed', s,
        s + interval '10 minutes', md5(n::text) || md5(n::text), 'de', 'Erika Mustermann',
        'citizen' || n / 10 || '@example.org', '+49 6151 0000', 'sub-' || n / 10,
        s - interval '7 days', s - interval '7 days', 0, false
    FROM src
)
INSERT INTO booking_items (booking_id, position, service_id, duration_minutes)
SELECT id, 0, '{service}', 10 FROM src
"""


async def execute(dsn: str, statement: str, *args: object) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(statement, *args)
    finally:
        await connection.close()


async def vacuum_analyze(dsn: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        for table in ("bookings", "booking_items", "slot_claims", "visits", "kpi_days"):
            await connection.execute(f"VACUUM ANALYZE {table}")
    finally:
        await connection.close()


async def grow(dsn: str, static: dict[str, Any], first: int, last: int, now: datetime) -> None:
    statement = _GROW.format(
        offices=OFFICES,
        days=PAST_DAYS,
        units=UNITS_PER_DAY,
        tenant=TENANT,
        service=static["service"][TENANT],
    )
    offices = [uuid.UUID(o) for o in static["offices"][TENANT]]
    for start in range(first, last + 1, CHUNK):
        await execute(dsn, statement, offices, start, min(start + CHUNK - 1, last), now)


# -- measuring -----------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(max(round(share * len(ordered)) - 1, 0), len(ordered) - 1)]


async def timed_requests(
    port: int, paths: list[str], rounds: int, headers: dict[str, str] | None = None
) -> list[float]:
    """``rounds`` GETs over one keep-alive connection, cycling through ``paths``; ms each."""
    connection = booking_bench.Connection("127.0.0.1", port)
    timings: list[float] = []
    try:
        for warm in range(min(len(paths) * 2, 10)):
            await get(connection, paths[warm % len(paths)], headers)
        for n in range(rounds):
            began = time.perf_counter()
            await get(connection, paths[n % len(paths)], headers)
            timings.append((time.perf_counter() - began) * 1000)
    finally:
        await connection.close()
    return timings


async def get(
    connection: Any, path: str, headers: dict[str, str] | None
) -> tuple[int, dict[str, Any]]:
    status, body = await connection.request("GET", path, {}, headers)
    if status != 200:
        raise RuntimeError(f"GET {path}: {status} {body}")
    return status, body


async def explain(
    url: str, call: Callable[[AsyncSession], Awaitable[object]], *, only: str = "SELECT"
) -> str:
    """``EXPLAIN (ANALYZE, BUFFERS)`` of the first statement starting with ``only`` that
    ``call`` sends, with its parameters, in a transaction rolled back."""
    database = Database(url)
    captured: list[tuple[str, Any]] = []

    def capture(_c: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        captured.append((statement, parameters))

    event.listen(database.engine.sync_engine, "before_cursor_execute", capture)
    try:
        async with database.sessionmaker() as session:
            await call(session)
            await session.rollback()
        event.remove(database.engine.sync_engine, "before_cursor_execute", capture)
        statement, parameters = next(
            (s, p) for s, p in captured if s.lstrip().upper().startswith(only)
        )
        async with database.engine.connect() as connection:
            rows = await connection.exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters
            )
            lines = [row[0] for row in rows]
            await connection.rollback()
        return "\n".join(lines)
    finally:
        await database.dispose()


def months_of_window(today: date) -> list[str]:
    months: list[str] = []
    day = today
    while day <= today + timedelta(days=92):
        if day.strftime("%Y-%m") not in months:
            months.append(day.strftime("%Y-%m"))
        day += timedelta(days=1)
    return months


def next_weekday(today: date, ahead: int) -> date:
    day = today + timedelta(days=ahead)
    while day.isoweekday() == 7:
        day += timedelta(days=1)
    return day


async def availability(
    port: int, url: str, static: dict[str, Any], counts: list[int], rounds: int, now: datetime
) -> dict[int, dict[str, Any]]:
    service = static["service"][TENANT]
    offices = static["offices"][TENANT]
    today = now.astimezone(fixtures.BERLIN).date()
    day = next_weekday(today, 8)
    results: dict[int, dict[str, Any]] = {}
    for count in counts:
        chosen = "" if count >= OFFICES else "".join(f"&office_id={o}" for o in offices[:count])
        base = f"/booking/v1/tenants/{TENANT}/availability"
        months = [
            f"{base}/days?service_id={service}&month={m}{chosen}" for m in months_of_window(today)
        ]
        days_ms = await timed_requests(port, months, rounds)
        slots_ms = await timed_requests(
            port, [f"{base}/slots?service_id={service}&date={day}{chosen}"], rounds
        )
        ids = [uuid.UUID(o) for o in offices[:count]]
        start = datetime.combine(today, datetime.min.time(), tzinfo=UTC)

        full_units = partial(_full_units, ids, start, start + timedelta(days=93), now)
        results[count] = {
            "days": days_ms,
            "slots": slots_ms,
            "plan": await explain(url, full_units),
        }
    return results


async def kpis(
    port: int, url: str, token: str, rounds: int, now: datetime, offices: list[str]
) -> dict[str, Any]:
    today = now.astimezone(fixtures.BERLIN).date()
    first = today - timedelta(days=365)
    path = f"/booking/v1/tenants/{TENANT}/kpis?from={first}&to={today}"
    timings = await timed_requests(port, [path], rounds, {"Authorization": f"Bearer {token}"})

    async def rollup(session: AsyncSession) -> object:
        # The closed days of the period: one row per day (the zone's, every service).
        return await KpiDayRepository(session).days(
            TENANT, "Europe/Berlin", [EVERY], EVERY, first, today
        )

    return {"ms": timings, "plan": await explain(url, rollup)}


async def close_past(url: str) -> float:
    """The nightly job, from scratch (the past was grown in SQL, behind the service's back):
    drop the KPI rollup and close every past day again; seconds."""
    database = Database(url)
    try:
        began = time.perf_counter()
        await close_days(database.sessionmaker, now=datetime.now(UTC), tenant=TENANT, rebuild=True)
        return time.perf_counter() - began
    finally:
        await database.dispose()


async def _full_units(
    ids: list[uuid.UUID], start: datetime, end: datetime, now: datetime, session: AsyncSession
) -> object:
    return await BookingRepository(session).full_units(ids, start, end, now)


async def _next_waiting(
    office: uuid.UUID, start: datetime, end: datetime, session: AsyncSession
) -> object:
    return await VisitRepository(session).next_waiting(office, start, end)


async def _of_person(email: str, session: AsyncSession) -> object:
    return await BookingRepository(session).of_person(ERASURE_TENANT, None, email)


async def _erase_batch(cutoff: datetime, session: AsyncSession) -> object:
    return await BookingRepository(session).erase_ended(ERASURE_TENANT, cutoff, 500)


async def _clerk(
    port: int,
    path: str,
    number: int,
    token: str,
    calls: list[float],
    called: list[str],
    others: list[int],
) -> None:
    """A clerk calling the next citizen, again and again, until nobody is left (409)."""
    connection = booking_bench.Connection("127.0.0.1", port)
    try:
        while True:
            began = time.perf_counter()
            status, body = await connection.request(
                "POST",
                path,
                {"counter": f"Schalter {number + 1}"},
                {"Authorization": f"Bearer {token}"},
            )
            calls.append((time.perf_counter() - began) * 1000)
            if status == 409:
                return
            if status != 200:
                others.append(status)
                return
            called.append(body["booking_id"])
    finally:
        await connection.close()


async def queue(
    port: int,
    dsn: str,
    url: str,
    static: dict[str, Any],
    factory: TokenFactory,
    sizes: list[int],
    clerks: int,
    rounds: int,
) -> dict[int, dict[str, Any]]:
    results: dict[int, dict[str, Any]] = {}
    offices = static["offices"][TENANT]
    for number, size in enumerate(sizes):
        office = offices[-1 - number]
        now = datetime.now(UTC)
        await execute(
            dsn,
            _WAITING.format(tenant=TENANT),
            uuid.UUID(office),
            size,
            f"Q{number}",
            now,
        )
        await vacuum_analyze(dsn)
        subjects = [f"clerk-{office[:8]}-{n}" for n in range(clerks)]
        for subject in subjects:
            await execute(
                dsn,
                "INSERT INTO office_staff (office_id, subject, created_at) VALUES ($1, $2, now())",
                uuid.UUID(office),
                subject,
            )
        tokens = [
            factory.issue(sub=subject, tenant=TENANT, roles=["clerk"], expires_in=3600)
            for subject in subjects
        ]
        path = f"/booking/v1/tenants/{TENANT}/offices/{office}/queue"
        listed = await timed_requests(
            port, [path], rounds, {"Authorization": f"Bearer {tokens[0]}"}
        )
        start_of_day = datetime.combine(
            now.astimezone(fixtures.BERLIN).date(), datetime.min.time(), tzinfo=fixtures.BERLIN
        )

        plan = await explain(
            url,
            partial(
                _next_waiting, uuid.UUID(office), start_of_day, start_of_day + timedelta(days=1)
            ),
        )
        calls: list[float] = []
        called: list[str] = []
        others: list[int] = []

        began = time.perf_counter()
        await asyncio.gather(
            *(
                _clerk(port, f"{path}/call", n, tokens[n], calls, called, others)
                for n in range(clerks)
            )
        )
        seconds = time.perf_counter() - began
        results[size] = {
            "listed": listed,
            "calls": calls,
            "called": len(called),
            "distinct": len(set(called)),
            "others": others,
            "seconds": seconds,
            "plan": plan,
        }
    return results


async def erasure(
    dsn: str, url: str, static: dict[str, Any], port: int, token: str, sizes: list[int]
) -> dict[int, dict[str, Any]]:
    """Retention over ``size`` expired bookings, then erasures on request among them."""
    office = uuid.UUID(static["offices"][ERASURE_TENANT][0])
    statement = _ERASABLE.format(tenant=ERASURE_TENANT, service=static["service"][ERASURE_TENANT])
    settings = BookingSettings(database_url=url)
    results: dict[int, dict[str, Any]] = {}
    seeded = 0
    for size in sizes:
        now = datetime.now(UTC)
        # The citizens to erase on request come first (the retention job would erase them).
        for start in range(seeded + 1, seeded + size + 1, CHUNK):
            await execute(dsn, statement, office, start, min(start + CHUNK - 1, seeded + size), now)
        await vacuum_analyze(dsn)
        citizens = [f"citizen{(seeded + 1) // 10 + n}@example.org" for n in range(1, 21)]
        path = f"/booking/v1/tenants/{ERASURE_TENANT}/erasures"
        headers = {"Authorization": f"Bearer {token}"}
        connection = booking_bench.Connection("127.0.0.1", port)
        requests: list[float] = []
        erased_on_request = 0
        try:
            for email in citizens:
                began = time.perf_counter()
                status, body = await connection.request("POST", path, {"email": email}, headers)
                requests.append((time.perf_counter() - began) * 1000)
                if status != 200:
                    raise RuntimeError(f"erasure: {status} {body}")
                erased_on_request += body["erased"]
        finally:
            await connection.close()

        person_plan = await explain(
            url, partial(_of_person, f"citizen{(seeded + 1) // 10 + 30}@example.org")
        )
        cutoff = now - timedelta(days=settings.retention_days)
        batch_plan = await explain(url, partial(_erase_batch, cutoff), only="UPDATE")
        database = Database(url)
        try:
            began = time.perf_counter()
            erased = await erase_expired(
                database.sessionmaker, settings, now=now, tenant=ERASURE_TENANT
            )
            retention_s = time.perf_counter() - began
        finally:
            await database.dispose()
        results[size] = {
            "requests": requests,
            "erased_on_request": erased_on_request,
            "erased": erased,
            "retention_s": retention_s,
            "person_plan": person_plan,
            "batch_plan": batch_plan,
        }
        seeded += size
    return results


# -- the run -------------------------------------------------------------------------------


def serve_jwks(factory: TokenFactory) -> tuple[http.server.ThreadingHTTPServer, str]:
    body = json.dumps(factory.public_jwks()).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/jwks"


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):.1f}"


def render(run: dict[str, Any]) -> str:
    lines = [
        f"Run {run['started']} UTC on {os.cpu_count()} CPUs (shared), PostgreSQL 127.0.0.1:5432, "
        f"one uvicorn worker, answer cache off; load average (1/5/15 min) at the start "
        f"{run['load_start']}, at the end {run.get('load_end', '-')}. Sizes: {run['args']}.",
        "",
        "### Availability (one connection; `days`: each month of the 92-day window in turn)",
        "",
        "| past bookings | offices | days p50 | days p99 | slots p50 | slots p99 | load |",
        "|---:|---:|---:|---:|---:|---:|---|",
    ]
    for size, figures in run["sizes"].items():
        for count, got in figures["availability"].items():
            lines.append(
                f"| {size:,} | {count} | {summary(got['days'])} ms | "
                f"{percentile(got['days'], 0.99):.1f} ms | {summary(got['slots'])} ms | "
                f"{percentile(got['slots'], 0.99):.1f} ms | {figures['load']} |"
            )
    lines += [
        "",
        "### KPIs (an administrator, every office, the past year; the past closed by the "
        "nightly job)",
        "",
        "| visits | p50 | p95 | max | closing every past day (`kpi-days-rebuild`) | load |",
        "|---:|---:|---:|---:|---:|---|",
    ]
    for size, figures in run["sizes"].items():
        got = figures["kpis"]["ms"]
        lines.append(
            f"| {size:,} | {summary(got)} ms | {percentile(got, 0.95):.1f} ms | "
            f"{max(got):.1f} ms | {figures['kpis'].get('closing_s', 0):.1f} s | "
            f"{figures['load']} |"
        )
    if run.get("queue"):
        lines += [
            "",
            f"### The queue (at {run['largest']:,} past bookings; {run['clerks']} clerks call at "
            "once until nobody waits)",
            "",
            "| waiting | GET queue p50 | p99 | calls | called once each | calls/s | call p50 | "
            "call p99 | other answers |",
            "|---:|---:|---:|---:|---|---:|---:|---:|---:|",
        ]
        for size, got in run["queue"].items():
            lines.append(
                f"| {size:,} | {summary(got['listed'])} ms | "
                f"{percentile(got['listed'], 0.99):.1f} ms | {got['called']} | "
                f"{'yes' if got['distinct'] == got['called'] == size else 'NO'} | "
                f"{got['called'] / got['seconds']:.0f} | {summary(got['calls'])} ms | "
                f"{percentile(got['calls'], 0.99):.1f} ms | {len(got['others'])} |"
            )
    if run.get("erasure"):
        lines += [
            "",
            "### Retention and erasure (a municipality of their own; bookings ended 400 days "
            "ago, 10 per citizen)",
            "",
            "| bookings | retention job | per booking | erasures on request (20, by e-mail) p50 "
            "| per booking | max |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        for size, got in run["erasure"].items():
            per_request = statistics.median(got["requests"])
            lines.append(
                f"| {size:,} | {got['retention_s']:.2f} s ({got['erased']:,} erased) | "
                f"{got['retention_s'] / max(got['erased'], 1) * 1e6:.0f} µs | "
                f"{per_request:.1f} ms | {per_request / 10:.2f} ms | "
                f"{max(got['requests']):.1f} ms |"
            )
    lines += ["", "### Plans (`EXPLAIN (ANALYZE, BUFFERS)`, largest size)", ""]
    largest = run["sizes"][run["largest"]]
    plans = [
        (f"`full_units` (availability), {c} offices, 93 days", got["plan"])
        for c, got in largest["availability"].items()
    ]
    plans.append(
        ("`days` (KPIs: the rollup), every office, the past year", largest["kpis"]["plan"])
    )
    for size, got in (run.get("queue") or {}).items():
        plans.append((f"`next_waiting` (a call), {size} waiting", got["plan"]))
    for size, got in (run.get("erasure") or {}).items():
        plans.append(
            (f"`erase_ended` (a retention batch of 500), {size:,} bookings", got["batch_plan"])
        )
        plans.append((f"`of_person` (erasure on request), {size:,} bookings", got["person_plan"]))
    for title, plan in plans:
        # The lists of 100 office ids would fill pages: cut long lines.
        shown = [line if len(line) <= 200 else line[:200] + " …" for line in plan.splitlines()]
        lines += [f"{title}:", "", "```", *shown, "```", ""]
    return "\n".join(lines).rstrip()


def write_readme(text: str) -> None:
    readme = README.read_text(encoding="utf-8")
    head, _, rest = readme.partition(BEGIN)
    _, _, tail = rest.partition(END)
    README.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}", encoding="utf-8")


def sizes(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--bookings", type=sizes, default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--offices", type=sizes, default=[1, 10, 100])
    parser.add_argument("--queue", type=sizes, default=[10, 100, 1000])
    parser.add_argument("--clerks", type=int, default=10)
    parser.add_argument("--erasure", type=sizes, default=[1000, 100_000])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--kpi-rounds", type=int, default=40)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    server = httpx.URL(args.server)
    name = f"rathaus_bench_scale_{uuid.uuid4().hex[:8]}"
    dsn = str(server.copy_with(path=f"/{name}"))
    url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
    factory = TokenFactory()
    jwks_server, jwks_url = serve_jwks(factory)
    admin = factory.issue(sub="admin", tenant=TENANT, roles=["admin"], expires_in=7200)
    erasure_admin = factory.issue(
        sub="admin", tenant=ERASURE_TENANT, roles=["admin"], expires_in=7200
    )
    run: dict[str, Any] = {
        "started": f"{datetime.now(UTC):%Y-%m-%d %H:%M}",
        "load_start": load(),
        "args": " ".join(sys.argv[1:]) or "the defaults",
        "sizes": {},
        "clerks": args.clerks,
    }
    asyncio.run(booking_bench.sql(args.server, f'CREATE DATABASE "{name}"'))
    process: subprocess.Popen[bytes] | None = None
    try:
        env = {
            **os.environ,
            "BOOKING_DATABASE_URL": url,
            "BOOKING_LOG_LEVEL": "WARNING",
            "BOOKING_AVAILABILITY_CACHE_SECONDS": "0",
            "BOOKING_AUTH_ISSUER": factory.issuer,
            "BOOKING_AUTH_AUDIENCE": factory.audience,
            "BOOKING_AUTH_JWKS_URL": jwks_url,
        }
        subprocess.run([str(booking_bench.BIN / "rathaus-booking"), "migrate"], env=env, check=True)
        static = asyncio.run(build_static(url))
        now = datetime.now(UTC)
        asyncio.run(
            execute(
                dsn,
                _AHEAD.format(
                    counters=COUNTERS,
                    units=UNITS_PER_DAY,
                    ahead=AHEAD_PER_OFFICE,
                    tenant=TENANT,
                    service=static["service"][TENANT],
                ),
                [uuid.UUID(o) for o in static["offices"][TENANT]],
                now,
            )
        )
        port = booking_bench.free_port()
        process = subprocess.Popen(
            [str(booking_bench.BIN / "rathaus-booking"), "serve"],
            env={**env, "BOOKING_PORT": str(port)},
        )
        booking_bench.wait_ready(f"http://127.0.0.1:{port}", process)
        grown = 0
        for size in sorted(args.bookings):
            began = time.perf_counter()
            asyncio.run(grow(dsn, static, grown + 1, size, now))
            asyncio.run(vacuum_analyze(dsn))
            print(f"{size:,} past bookings after {time.perf_counter() - began:.0f} s", flush=True)
            grown = size
            closing_s = asyncio.run(close_past(url))
            asyncio.run(vacuum_analyze(dsn))
            print(f"closed the past for the KPIs in {closing_s:.0f} s", flush=True)
            figures: dict[str, Any] = {
                "availability": asyncio.run(
                    availability(port, url, static, args.offices, args.rounds, now)
                ),
                "kpis": {
                    **asyncio.run(
                        kpis(port, url, admin, args.kpi_rounds, now, static["offices"][TENANT])
                    ),
                    "closing_s": closing_s,
                },
                "load": load(),
            }
            run["sizes"][size] = figures
            print(render({**run, "largest": size}), flush=True)
        run["largest"] = grown
        if args.queue:
            run["queue"] = asyncio.run(
                queue(port, dsn, url, static, factory, args.queue, args.clerks, args.rounds)
            )
        if args.erasure:
            run["erasure"] = asyncio.run(
                erasure(dsn, url, static, port, erasure_admin, args.erasure)
            )
        run["load_end"] = load()
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
        jwks_server.shutdown()
        asyncio.run(
            booking_bench.sql(args.server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        )
    text = render(run)
    print(text)
    if not args.no_write:
        write_readme(text)


if __name__ == "__main__":
    main()
