from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from booking.main import create_app
from booking.seed import seed_demo
from booking.settings import BookingSettings
from servicekit.cli import run_cli
from servicekit.settings import ServiceSettings

SERVICE_DIR = Path(__file__).resolve().parents[1]


def _create_app(settings: ServiceSettings) -> FastAPI:
    assert isinstance(settings, BookingSettings)
    return create_app(settings)


def main() -> None:
    run_cli(
        settings=BookingSettings(),
        create_app=_create_app,
        service_dir=SERVICE_DIR,
        seed=seed_demo,
    )
