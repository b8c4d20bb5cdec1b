from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI

from identity.main import create_app
from identity.testing import FakeClock, settings_for_tests
from servicekit.testing import ServiceUnderTest


def make_app(database_url: str) -> FastAPI:
    # Each app gets its own clock; a test that moves time takes app.state.clock.
    return create_app(settings_for_tests(database_url), clock=FakeClock())


@pytest.fixture(scope="session")
def service_under_test() -> ServiceUnderTest:
    return ServiceUnderTest(
        name="identity", service_dir=Path(__file__).resolve().parents[1], make_app=make_app
    )
