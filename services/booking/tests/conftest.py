from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI

from booking.events.models import (
    BOOKING_CANCELLED,
    BOOKING_CONFIRMED,
    BOOKING_RESCHEDULED,
    CITIZEN_ERASED,
)
from booking.main import create_app
from booking.settings import BookingSettings
from servicekit.settings import Environment
from servicekit.testing import ServiceUnderTest

from .factories import IDENTITY_EVENT_SECRET, LETTERHEAD, OTHER_TENANT, PORTAL_URL, TENANT


def make_app(database_url: str) -> FastAPI:
    return create_app(
        BookingSettings.model_validate(
            {
                "environment": Environment.TEST,
                "database_url": database_url,
                "events_secrets": {"identity": IDENTITY_EVENT_SECRET},
                "portal_url": PORTAL_URL,
                "mail_from_address": "termine@rathaus.example",
                # Their anonymous holds confirm directly; OPT_IN_TENANT has the defaults.
                "tenant_mail": {
                    TENANT: {**LETTERHEAD, "double_opt_in": False},
                    OTHER_TENANT: {
                        "reminder_hours": 14 * 24,
                        "double_opt_in": False,
                        "satisfaction_mail": True,
                    },
                },
                "reminder_interval_s": 0,  # the tests queue reminders themselves
                "waitlist_interval_s": 0,  # and hand lapsed waitlist offers on themselves
                # Nothing listens there in these tests: the outbox keeps what it would send.
                "events_subscribers": [
                    {
                        "name": "documents",
                        "url": "http://127.0.0.1:9/documents/v1/events",
                        "secret": "a-secret-shared-with-documents-in-tests",
                        "types": [CITIZEN_ERASED],
                    },
                    {
                        "name": "fachverfahren",
                        "url": "http://127.0.0.1:9/fachverfahren/events",
                        "secret": "a-secret-shared-with-the-case-management",
                        "types": [BOOKING_CONFIRMED, BOOKING_RESCHEDULED, BOOKING_CANCELLED],
                    },
                ],
            }
        )
    )


@pytest.fixture
def no_full_slot_memory(app: FastAPI) -> None:
    """For tests that let holds run out by editing the database behind the app's back: the
    seat gate would otherwise go on answering 409 for the slot for up to a second."""
    app.state.booking_desk.gate.memory_seconds = 0


@pytest.fixture(scope="session")
def service_under_test() -> ServiceUnderTest:
    return ServiceUnderTest(
        name="booking", service_dir=Path(__file__).resolve().parents[1], make_app=make_app
    )
