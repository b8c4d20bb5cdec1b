from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from gateway.main import create_app
from gateway.settings import GatewaySettings
from servicekit.cli import run_cli
from servicekit.settings import ServiceSettings

SERVICE_DIR = Path(__file__).resolve().parents[1]


def _create_app(settings: ServiceSettings) -> FastAPI:
    assert isinstance(settings, GatewaySettings)
    return create_app(settings)


def main() -> None:
    run_cli(
        settings=GatewaySettings(),
        create_app=_create_app,
        service_dir=SERVICE_DIR,
        with_database=False,
    )
