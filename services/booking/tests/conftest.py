from __future__ import annotations

import sys
from pathlib import Path

import pytest
from fastapi import FastAPI

from booking.main import create_app
from booking.settings import BookingSettings
from servicekit.settings import Environment
from servicekit.testing import ServiceUnderTest

# The tests share plain factory functions (booking_factories.py next to this file).
sys.path.insert(0, str(Path(__file__).resolve().parent))

from booking_factories import IDENTITY_EVENT_SECRET


def make_app(database_url: str) -> FastAPI:
    return create_app(
        BookingSettings.model_validate(
            {
                "environment": Environment.TEST,
                "database_url": database_url,
                "events_secrets": {"identity": IDENTITY_EVENT_SECRET},
            }
        )
    )


@pytest.fixture
def no_full_slot_memory(app: FastAPI) -> None:
    """For tests that let holds run out by editing the database behind the app's back: the
    seat gate would otherwise go on answering 409 for the slot for up to a second."""
    app.state.seat_gate.memory_seconds = 0


@pytest.fixture(scope="session")
def service_under_test() -> ServiceUnderTest:
    return ServiceUnderTest(
        name="booking", service_dir=Path(__file__).resolve().parents[1], make_app=make_app
    )
