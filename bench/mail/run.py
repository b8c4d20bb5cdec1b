"""Mails per second: the kit's mail dispatcher against aiosmtplib sending in a bare loop.

    .venv/bin/python bench/mail/run.py [--mails 2000] [--repeat 3] [--batch 50]
        [--database postgresql://postgres@127.0.0.1:5432/postgres]

Starts the local SMTP sink of ``make run`` (``python -m servicekit.mail.sink``, its own
process, storing every mail as a file) on a loopback port and builds ``--mails`` booking
confirmations (text, HTML and an iMIP invitation, about 5 KiB each). Per attempt:

- **bare loop**: one aiosmtplib connection, ``sendmail`` for each mail in turn;
- **dispatcher**: the same mails queued in the outbox table (``Mailbox.add``, not timed),
  then :meth:`MailDispatcher.send_due` until all are sent: claiming batches (``FOR UPDATE SKIP
  LOCKED`` on PostgreSQL), sending over one connection, recording each outcome.

The two alternate (every other attempt the dispatcher goes first); the best attempt of each
counts, with the median beside it. Databases are a SQLite file in a temporary directory, or a
throwaway database on the PostgreSQL server given with ``--database``. Prints a Markdown table
for the README.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import asyncpg
from sqlalchemy import delete
from sqlalchemy.orm import DeclarativeBase

from servicekit.db import Database, new_metadata
from servicekit.mail import (
    Invitation,
    Mailbox,
    MailColumns,
    MailDispatcher,
    MailTemplates,
    SmtpSecurity,
    SmtpServer,
    as_sent,
    compose,
)
from servicekit.testing.live import free_port

SENDER = "termine@musterstadt.example"


class Base(DeclarativeBase):
    metadata = new_metadata()


class OutboxMail(MailColumns, Base):
    pass


def confirmation(number: int) -> EmailMessage:
    starts = datetime(2026, 12, 7, 8, 30, tzinfo=UTC) + timedelta(minutes=15 * number)
    stamp = starts.strftime("%Y%m%dT%H%M%SZ")
    ics = "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//Rathaus//Booking//DE",
            "METHOD:REQUEST",
            "BEGIN:VEVENT",
            f"UID:booking-{number}@rathaus.example",
            "SEQUENCE:0",
            f"DTSTAMP:{stamp}",
            f"DTSTART:{stamp}",
            "DURATION:PT15M",
            "SUMMARY:Personalausweis beantragen",
            "LOCATION:Bürgeramt Mitte\\, Marktplatz 1\\, 99999 Musterstadt",
            f"ORGANIZER;CN=Stadt Musterstadt:mailto:{SENDER}",
            f"ATTENDEE;CN=Citizen {number};RSVP=FALSE:mailto:citizen{number}@example.org",
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
    )
    checklist = "".join(
        f"- {item}\n"
        for item in (
            "Bisheriger Personalausweis oder Reisepass",
            "Ein aktuelles biometrisches Passfoto",
            "Gebühr: 37,00 € (unter 24 Jahren: 22,80 €)",
        )
    )
    text = (
        f"Guten Tag Citizen {number},\n\nIhr Termin ist bestätigt:\n"
        f"Montag, 7. Dezember 2026, 09:30, Bürgeramt Mitte, Marktplatz 1.\n\n"
        f"Bitte bringen Sie mit:\n{checklist}\nBuchungscode: B-{number:06d}\n"
        f"Termin ändern oder absagen: https://rathaus.example/manage/{uuid.uuid4().hex}\n\n"
        "-- \nStadt Musterstadt, Bürgeramt\nImpressum: https://musterstadt.example/impressum\n"
    ) * 2
    html = "<html><body>" + "".join(f"<p>{line}</p>" for line in text.splitlines()) + "</body>"
    return compose(
        sender_name="Stadt Musterstadt, Bürgeramt",
        sender_address=SENDER,
        to=f"citizen{number}@example.org",
        to_name=f"Citizen {number}",
        reply_to="buergeramt@musterstadt.example",
        subject="Ihr Termin am Montag, 7. Dezember 2026, 09:30",
        text=text,
        html=html,
        invitation=Invitation(ics, "REQUEST"),
    )


async def bare_loop(port: int, mails: list[EmailMessage]) -> float:
    raw = [(str(mail["To"].addresses[0].addr_spec), as_sent(mail)) for mail in mails]
    started = time.perf_counter()
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False) as smtp:
        for recipient, message in raw:
            await smtp.sendmail(SENDER, [recipient], message)
    return time.perf_counter() - started


async def through_dispatcher(
    database: Database, port: int, mails: list[EmailMessage], batch: int
) -> float:
    mailbox = Mailbox(OutboxMail, MailTemplates([]), from_address=SENDER)
    async with database.sessionmaker() as session:
        await session.execute(delete(OutboxMail))
        for number, mail in enumerate(mails):
            await mailbox.add(session, mail, subject_key=f"booking:{number}", template="c")
        await session.commit()
    dispatcher = MailDispatcher(
        OutboxMail,
        database.sessionmaker,
        smtp=SmtpServer("127.0.0.1", port, SmtpSecurity.NONE),
        envelope_from=SENDER,
        batch=batch,
    )
    started = time.perf_counter()
    sent = await dispatcher.send_due()
    elapsed = time.perf_counter() - started
    if sent != len(mails):
        raise SystemExit(f"the dispatcher sent {sent} of {len(mails)} mails")
    return elapsed


@asynccontextmanager
async def bench_database(url: str | None, folder: Path) -> AsyncIterator[Database]:
    if url is None:
        database = Database(f"sqlite+aiosqlite:///{folder / 'bench.db'}")
        name = None
    else:
        name = f"rathaus_bench_mail_{os.urandom(4).hex()}"
        admin = await asyncpg.connect(url)
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        base = url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
        database = Database(f"{base}/{name}")
    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    try:
        yield database
    finally:
        await database.dispose()
        if url is not None:
            admin = await asyncpg.connect(url)
            await admin.execute(f'DROP DATABASE "{name}"')
            await admin.close()


def start_sink(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    command = [sys.executable, "-m", "servicekit.mail.sink", "--port", str(port)]
    sink = subprocess.Popen([*command, "--folder", str(folder), "--quiet"])
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return sink, port
        except OSError:
            time.sleep(0.05)
    sink.kill()
    raise SystemExit("the sink did not start")


async def measure(args: argparse.Namespace, folder: Path, port: int) -> dict[str, Any]:
    mails = [confirmation(number) for number in range(args.mails)]
    size = statistics.mean(len(as_sent(mail)) for mail in mails)
    bare: list[float] = []
    dispatched: list[float] = []
    async with bench_database(args.database, folder) as database:
        for attempt in range(args.repeat):
            runs: list[tuple[list[float], Callable[[], Coroutine[Any, Any, float]]]] = [
                (bare, lambda: bare_loop(port, mails)),
                (dispatched, lambda: through_dispatcher(database, port, mails, args.batch)),
            ]
            for times, run in runs if attempt % 2 == 0 else reversed(runs):
                times.append(await run())
    return {
        "database": "PostgreSQL" if args.database else "SQLite",
        "mails": args.mails,
        "size": size,
        "bare": [args.mails / t for t in bare],
        "dispatcher": [args.mails / t for t in dispatched],
    }


def table(result: dict[str, Any]) -> str:
    best_bare, best_dispatcher = max(result["bare"]), max(result["dispatcher"])
    median_bare = statistics.median(result["bare"])
    median_dispatcher = statistics.median(result["dispatcher"])
    return "\n".join(
        [
            f"{result['database']}, {result['mails']} mails of {result['size'] / 1024:.1f} KiB, "
            f"best (median) of {len(result['bare'])}:",
            "",
            "| | mails/s | ratio |",
            "|---|---|---|",
            f"| aiosmtplib, bare loop | {best_bare:.0f} ({median_bare:.0f}) | 1 |",
            f"| MailDispatcher.send_due | {best_dispatcher:.0f} ({median_dispatcher:.0f}) "
            f"| **{best_dispatcher / best_bare:.2f}** "
            f"({median_dispatcher / median_bare:.2f}) |",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mails", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--database", help="a PostgreSQL server's URL (default: SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rathaus-bench-mail-") as tmp:
        folder = Path(tmp)
        sink, port = start_sink(folder / "received")
        try:
            result = asyncio.run(measure(args, folder, port))
        finally:
            sink.terminate()
            sink.wait(timeout=15)
    print(table(result))


if __name__ == "__main__":
    main()
