"""``rathaus-identity``: the kit's serve|migrate|seed|openapi, plus key management

keys list            every signing key with its state
keys rotate          a new active key; the previous one stays published as passive
keys retire KID      stop publishing a passive key (its tokens are rejected from then on)
bootstrap            the first municipality and its platform admin, for a fresh production
                     database (the password comes from IDENTITY_BOOTSTRAP_PASSWORD or a prompt)
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from fastapi import FastAPI

from identity.accounts.dependencies import account_service
from identity.audit.dependencies import audit_log
from identity.audit.service import Actor
from identity.keys.dependencies import key_service
from identity.mail.dependencies import account_mail
from identity.main import create_app
from identity.seed import seed_demo
from identity.settings import IdentitySettings
from identity.tenants.dependencies import tenant_service
from servicekit.cli import run_cli
from servicekit.settings import ServiceSettings

SERVICE_DIR = Path(__file__).resolve().parents[1]
CLI_ACTOR = Actor("cli:rathaus-identity")


def _create_app(settings: ServiceSettings) -> FastAPI:
    assert isinstance(settings, IdentitySettings)
    return create_app(settings)


async def manage_keys(app: FastAPI, command: str, kid: str | None = None) -> list[str]:
    """Run a ``keys`` subcommand against the app's database; the lines to print."""
    state = app.state
    async with state.database.sessionmaker() as session, session.begin():
        audit = await audit_log(session, state.clock)
        keys = await key_service(session, state.settings, state.key_cipher, audit, state.clock)
        if command == "rotate":
            key = await keys.rotate(CLI_ACTOR)
            return [f"new active key {key.kid} ({key.algorithm})"]
        if command == "retire":
            assert kid is not None
            key = await keys.retire(kid, CLI_ACTOR)
            return [f"retired {key.kid}"]
        return [f"{key.kid}  {key.algorithm}  {key.state}" for key in await keys.list()]


async def bootstrap(app: FastAPI, *, ags: str, name: str, email: str, password: str) -> str:
    """The municipality and a platform admin in it; an existing account is left unchanged."""
    state = app.state
    async with state.database.sessionmaker() as session, session.begin():
        tenants = await tenant_service(session)
        tenant = await tenants.ensure(ags, name)
        audit = await audit_log(session, state.clock)
        mail = await account_mail(session, state.mailbox, tenants, state.settings)
        accounts = await account_service(
            session,
            tenants,
            state.passwords,
            audit,
            state.clock,
            mail,
            state.outbox,
            state.settings,
        )
        account, created = await accounts.ensure_account(
            tenant.ags, email, password, ["platform_admin"]
        )
    outcome = "created" if created else "exists (unchanged)"
    return f"platform admin {account.email} in {tenant.ags} {outcome}"


async def _bootstrap_command(settings: IdentitySettings, args: argparse.Namespace) -> None:
    password = os.environ.get("IDENTITY_BOOTSTRAP_PASSWORD") or getpass.getpass("password: ")
    app = create_app(settings)
    try:
        line = await bootstrap(
            app, ags=args.ags, name=args.name, email=args.email, password=password
        )
    finally:
        await app.state.database.dispose()
    print(line)  # noqa: T201 - the command's output


async def _keys_command(settings: IdentitySettings, command: str, kid: str | None) -> None:
    app = create_app(settings)
    try:
        lines = await manage_keys(app, command, kid)
    finally:
        await app.state.database.dispose()
    print("\n".join(lines))  # noqa: T201 - the command's output


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "keys":
        parser = argparse.ArgumentParser(prog="rathaus-identity keys")
        commands = parser.add_subparsers(dest="command", required=True)
        commands.add_parser("list", help="every signing key with its state")
        commands.add_parser("rotate", help="make a new active signing key")
        retire = commands.add_parser("retire", help="stop publishing a passive key")
        retire.add_argument("kid")
        parsed = parser.parse_args(args[1:])
        asyncio.run(_keys_command(IdentitySettings(), parsed.command, getattr(parsed, "kid", None)))
        return
    if args and args[0] == "bootstrap":
        parser = argparse.ArgumentParser(prog="rathaus-identity bootstrap")
        parser.add_argument("--ags", required=True, help="AGS of the first municipality")
        parser.add_argument("--name", required=True, help="its name")
        parser.add_argument("--email", required=True, help="the platform admin's email")
        asyncio.run(_bootstrap_command(IdentitySettings(), parser.parse_args(args[1:])))
        return
    if not args or args[0] in {"-h", "--help"}:
        print(__doc__)  # noqa: T201 - the commands run_cli's help does not list
    run_cli(
        settings=IdentitySettings(),
        create_app=_create_app,
        service_dir=SERVICE_DIR,
        seed=seed_demo,
        argv=args,
    )
