from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from documents.main import create_app
from documents.settings import DocumentsSettings
from servicekit.cli import run_cli
from servicekit.settings import ServiceSettings

SERVICE_DIR = Path(__file__).resolve().parents[1]


def _create_app(settings: ServiceSettings) -> FastAPI:
    assert isinstance(settings, DocumentsSettings)
    return create_app(settings)


def main() -> None:
    run_cli(settings=DocumentsSettings(), create_app=_create_app, service_dir=SERVICE_DIR)
