"""Selecting due reminders among 1M bookings in PostgreSQL: time per batch and the plan.

    .venv/bin/python bench/mail/reminders.py [--server postgresql://postgres@127.0.0.1:5432/postgres]
        [--bookings 1000000] [--batch 200] [--rounds 50]

Builds a database of its own (dropped and made again each run) with booking's tables, one
office and ``--bookings`` confirmed bookings spread evenly over the two years before and the
90 days after now: the past ones were reminded (``remind_at`` NULL), the future ones are due
24 h before they begin. Then it times ``BookingRepository.due_reminders`` (the query each
replica's round runs, ``FOR UPDATE SKIP LOCKED`` included, with its items) ``--rounds`` times,
each in a transaction rolled back so every round finds the same due set, and prints
``EXPLAIN (ANALYZE, BUFFERS)`` of its SELECT. Target: <= 50 ms per batch.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from urllib.parse import urlsplit

import asyncpg
from sqlalchemy import Table, text

from booking import models  # noqa: F401 - registers every table
from booking.bookings.models import Booking, BookingStatus
from booking.bookings.repository import BookingRepository
from booking.catalogue.models import Service
from booking.db import Base
from booking.offices.models import Office
from servicekit.db import Database, utcnow

DATABASE = "rathaus_bench_reminders"
TENANT = "06999001"


async def _recreate(admin_dsn: str) -> None:
    connection = await asyncpg.connect(admin_dsn)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await connection.close()


async def _fill(database: Database, bookings: int) -> None:
    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    service_id, office_id = uuid.uuid4(), uuid.uuid4()
    async with database.sessionmaker() as session:
        session.add(
            Service(
                id=service_id,
                tenant=TENANT,
                leika="99102013001000",
                name_de="Ausweis",
                name_en="ID card",
                duration_minutes=20,
            )
        )
        session.add(
            Office(
                id=office_id,
                tenant=TENANT,
                name="Bench",
                street="Markt 1",
                postal_code="12345",
                city="Musterstadt",
                counters=1000,
                bookable_until_days=90,
            )
        )
        await session.commit()
    async with database.engine.begin() as connection:
        # Two years back and 90 days ahead, evenly: about 1 in 9 is still to be reminded.
        await connection.execute(
            text(
                """
                INSERT INTO bookings (id, tenant, office_id, code, status, starts_at, ends_at,
                    manage_token_hash, language, name, email, created_at, confirmed_at,
                    sequence, walk_in, remind_at)
                SELECT gen_random_uuid(), :t, :office, 'B' || lpad(n::text, 8, '0'),
                    'confirmed', s, s + interval '20 minutes', '', 'de', 'Erika Mustermann',
                    'citizen' || n || '@example.org', s - interval '7 days',
                    s - interval '7 days', 0, false,
                    CASE WHEN s > now() THEN s - interval '24 hours' END
                FROM (
                    SELECT n, now() - interval '730 days'
                        + (n::double precision / :total) * interval '820 days' AS s
                    FROM generate_series(1, :total) AS n
                ) AS spread
                """
            ),
            {"t": TENANT, "office": office_id, "total": bookings},
        )
        await connection.execute(
            text(
                "INSERT INTO booking_items (booking_id, position, service_id, duration_minutes) "
                "SELECT id, 0, :service, 20 FROM bookings"
            ),
            {"service": service_id},
        )
    async with database.engine.connect() as connection:
        await connection.execute(text("COMMIT"))
        await connection.execute(text("VACUUM ANALYZE bookings"))
        await connection.execute(text("VACUUM ANALYZE booking_items"))


async def _measure(
    database: Database, batch: int, rounds: int
) -> tuple[list[float], list[float], int, str]:
    timings: list[float] = []
    found = 0
    for round_ in range(rounds + 1):
        async with database.sessionmaker() as session:
            started = time.perf_counter()
            due = await BookingRepository(session).due_reminders(utcnow(), batch)
            if round_:  # the first opens the pool's connection and warms its statements
                timings.append((time.perf_counter() - started) * 1000)
            found = len(due)
            await session.rollback()
    table = Booking.__table__
    assert isinstance(table, Table)
    query = (
        table.select()
        .where(Booking.remind_at <= utcnow(), Booking.status == BookingStatus.CONFIRMED)
        .order_by(Booking.remind_at)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    sql = str(
        query.compile(dialect=database.engine.dialect, compile_kwargs={"literal_binds": True})
    )
    sql_only: list[float] = []
    async with database.engine.connect() as connection:
        for _ in range(rounds):
            started = time.perf_counter()
            await connection.execute(text(sql))
            sql_only.append((time.perf_counter() - started) * 1000)
            await connection.rollback()
        plan = await connection.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {sql}"))
        lines = [row[0] for row in plan]
        await connection.rollback()
    return timings, sql_only, found, "\n".join(lines)


def _summary(label: str, timings: list[float]) -> str:
    ordered = sorted(timings)
    return (
        f"{label}, {len(ordered)} rounds: median {statistics.median(ordered):.2f} ms, "
        f"p95 {ordered[int(len(ordered) * 0.95) - 1]:.2f} ms, max {ordered[-1]:.2f} ms"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--bookings", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    await _recreate(args.server)
    server = urlsplit(args.server)
    url = f"postgresql+asyncpg://{server.netloc}/{DATABASE}"
    database = Database(url)
    try:
        started = time.perf_counter()
        await _fill(database, args.bookings)
        print(f"filled {args.bookings} bookings in {time.perf_counter() - started:.0f} s")
        async with database.engine.connect() as connection:
            pending = await connection.scalar(
                text("SELECT count(*) FROM bookings WHERE remind_at IS NOT NULL")
            )
            due = await connection.scalar(
                text("SELECT count(*) FROM bookings WHERE remind_at <= now()")
            )
        timings, sql_only, found, plan = await _measure(database, args.batch, args.rounds)
    finally:
        await database.dispose()
    print(f"still to be reminded: {pending}, due now: {due}; a batch found {found}")
    print(_summary(f"due_reminders (batch {args.batch}, ORM objects with items)", timings))
    print(_summary("its SELECT alone (one round trip, rows as tuples)", sql_only))
    print(plan)


if __name__ == "__main__":
    asyncio.run(main())
