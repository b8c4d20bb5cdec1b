from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI

from identity.main import create_app
from identity.settings import IdentitySettings
from servicekit.settings import Environment
from servicekit.testing import ServiceUnderTest


def make_app(database_url: str) -> FastAPI:
    return create_app(IdentitySettings(environment=Environment.TEST, database_url=database_url))


@pytest.fixture(scope="session")
def service_under_test() -> ServiceUnderTest:
    return ServiceUnderTest(
        name="identity", service_dir=Path(__file__).resolve().parents[1], make_app=make_app
    )
