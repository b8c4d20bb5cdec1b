from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fastapi import FastAPI

from booking.main import create_app
from booking.retention.service import erase_expired
from booking.seed import seed_demo
from booking.settings import BookingSettings
from servicekit.cli import run_cli
from servicekit.db import Database, utcnow
from servicekit.settings import ServiceSettings

SERVICE_DIR = Path(__file__).resolve().parents[1]


def _create_app(settings: ServiceSettings) -> FastAPI:
    assert isinstance(settings, BookingSettings)
    return create_app(settings)


MAINTENANCE = {
    "erase": "erase the citizens' data of bookings past their tenant's retention period",
}


async def _maintain(command: str, settings: ServiceSettings, tenant: str | None) -> str:
    assert isinstance(settings, BookingSettings)
    assert command == "erase"
    database: Database = create_app(settings).state.database
    try:
        count = await erase_expired(database.sessionmaker, settings, now=utcnow(), tenant=tenant)
        return f"erased the citizens' data of {count} bookings"
    finally:
        await database.dispose()


def main(argv: Sequence[str] | None = None) -> None:
    run_cli(
        settings=BookingSettings(),
        create_app=_create_app,
        service_dir=SERVICE_DIR,
        seed=seed_demo,
        maintenance=MAINTENANCE,
        maintain=_maintain,
        argv=argv,
    )
