"""The command line every service shares:
``rathaus-<service> serve|migrate|seed|events|mail|openapi``,
plus the service's own maintenance commands (each with ``--tenant``, and ``--every SECONDS``
to run again and again where no cron schedules it: compose's job containers)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from servicekit.events.dispatch import undelivered
from servicekit.events.outbox import Outbox
from servicekit.mail import Mailbox, pending_mail
from servicekit.migrations import upgrade
from servicekit.openapi import to_yaml
from servicekit.server import serve
from servicekit.settings import ServiceSettings

logger = logging.getLogger("servicekit.cli")

Seeder = Callable[[FastAPI], Awaitable[None]]
Maintainer = Callable[[str, ServiceSettings, str | None], Coroutine[Any, Any, str]]
"""Runs a maintenance command (its name, the settings, the ``--tenant`` or None); the report."""


def run_cli(
    *,
    settings: ServiceSettings,
    create_app: Callable[[ServiceSettings], FastAPI],
    service_dir: Path,
    seed: Seeder | None = None,
    with_database: bool = True,
    maintenance: Mapping[str, str] | None = None,
    maintain: Maintainer | None = None,
    argv: Sequence[str] | None = None,
) -> None:
    """``maintenance`` names the service's own commands (name: help), run by ``maintain``."""
    parser = argparse.ArgumentParser(prog=f"rathaus-{settings.service_name}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="serve the API (graceful shutdown on SIGTERM/SIGINT)")
    if with_database:
        commands.add_parser("migrate", help="upgrade the database to the newest migration")
    if seed is not None:
        commands.add_parser("seed", help="load demo data (idempotent)")
    if with_database:
        events = commands.add_parser(
            "events", help="the events still on their way to subscribers (outbox)"
        )
        events.add_argument("--retry", action="store_true", help="make them all due now")
        mail = commands.add_parser(
            "mail", help="the mails not sent yet and those that failed (recipients masked)"
        )
        mail.add_argument(
            "--retry", action="store_true", help="make them all due now, failed ones too"
        )
    for name, help_text in (maintenance or {}).items():
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--tenant", help="only this municipality (AGS)")
        command.add_argument(
            "--every",
            type=_seconds,
            metavar="SECONDS",
            help="run again every SECONDS until SIGTERM (which waits for the current run)",
        )
    openapi = commands.add_parser("openapi", help="print the OpenAPI contract as YAML")
    openapi.add_argument("--output", type=Path, help="write to this file instead of stdout")
    args = parser.parse_args(argv)

    if args.command == "serve":
        serve(create_app(settings), settings)
    elif args.command == "migrate":
        upgrade(service_dir, settings.database_url)
    elif args.command == "seed":
        assert seed is not None
        asyncio.run(_seed(create_app(settings), seed))
    elif args.command == "events":
        print(asyncio.run(_events(create_app(settings), retry=args.retry)))  # noqa: T201
    elif args.command == "mail":
        print(asyncio.run(_mail(create_app(settings), retry=args.retry)))  # noqa: T201
    elif args.command in (maintenance or {}):
        assert maintain is not None
        if args.every is None:
            print(asyncio.run(maintain(args.command, settings, args.tenant)))  # noqa: T201
        else:
            asyncio.run(_repeat(maintain, args.command, settings, args.tenant, args.every))
    elif args.command == "openapi":
        text = to_yaml(create_app(settings).openapi())
        if args.output:
            args.output.write_text(text, encoding="utf-8")
        else:
            print(text, end="")  # noqa: T201 - the command's output


def _seconds(value: str) -> float:
    seconds = float(value)
    if not seconds > 0:
        raise argparse.ArgumentTypeError("must be more than 0 seconds")
    return seconds


async def _repeat(
    maintain: Maintainer, command: str, settings: ServiceSettings, tenant: str | None, every: float
) -> None:
    """Run the command every ``every`` seconds until SIGTERM or SIGINT, which end the wait, not
    a run. A failed run is logged and tried again next time (the database may be restarting);
    the commands are safe to run in parallel, so a second container doing the same is fine."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    while not stop.is_set():
        try:
            report = await maintain(command, settings, tenant)
        except Exception:
            logger.exception("maintenance run failed", extra={"command": command})
        else:
            print(f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} {command}: {report}", flush=True)  # noqa: T201
        try:
            await asyncio.wait_for(stop.wait(), every)
        except TimeoutError:
            continue


async def _events(app: FastAPI, *, retry: bool) -> str:
    outbox: Outbox | None = app.state.outbox
    try:
        if outbox is None:
            return "this service publishes no events"
        return await undelivered(outbox, app.state.database.sessionmaker, retry=retry)
    finally:
        await app.state.database.dispose()


async def _mail(app: FastAPI, *, retry: bool) -> str:
    mailbox: Mailbox | None = app.state.mailbox
    try:
        if mailbox is None:
            return "this service sends no mail"
        return await pending_mail(mailbox.model, app.state.database.sessionmaker, retry=retry)
    finally:
        await app.state.database.dispose()


async def _seed(app: FastAPI, seed: Seeder) -> None:
    try:
        await seed(app)
    finally:
        if app.state.database is not None:
            await app.state.database.dispose()
