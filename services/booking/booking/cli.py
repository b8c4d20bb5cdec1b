from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fastapi import FastAPI

from booking.main import create_app
from booking.retention.service import erase_expired
from booking.seed import seed_demo
from booking.settings import BookingSettings
from booking.visits.rollup import close_days
from servicekit.cli import run_cli
from servicekit.db import Database, utcnow
from servicekit.settings import ServiceSettings

SERVICE_DIR = Path(__file__).resolve().parents[1]


def _create_app(settings: ServiceSettings) -> FastAPI:
    assert isinstance(settings, BookingSettings)
    return create_app(settings)


MAINTENANCE = {
    "erase": "erase the citizens' data of bookings past their tenant's retention period",
    "kpi-days": "close the days that are over for the KPIs (their rollup); nightly",
    "kpi-days-rebuild": "drop the KPI rollup and close every past day again (after SQL by hand)",
}


async def _maintain(command: str, settings: ServiceSettings, tenant: str | None) -> str:
    assert isinstance(settings, BookingSettings)
    database: Database = create_app(settings).state.database
    try:
        if command.startswith("kpi-days"):
            days = await close_days(
                database.sessionmaker,
                now=utcnow(),
                tenant=tenant,
                rebuild=command == "kpi-days-rebuild",
            )
            return f"closed {days} days for the KPIs"
        assert command == "erase"
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
