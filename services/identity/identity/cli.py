from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from identity.main import create_app
from identity.seed import seed_demo
from identity.settings import IdentitySettings
from servicekit.cli import run_cli
from servicekit.settings import ServiceSettings

SERVICE_DIR = Path(__file__).resolve().parents[1]


def _create_app(settings: ServiceSettings) -> FastAPI:
    assert isinstance(settings, IdentitySettings)
    return create_app(settings)


def main() -> None:
    run_cli(
        settings=IdentitySettings(),
        create_app=_create_app,
        service_dir=SERVICE_DIR,
        seed=seed_demo,
    )
