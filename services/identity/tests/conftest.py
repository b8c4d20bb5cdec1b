from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from identity.main import create_app
from servicekit.mail.sink import MailSink
from servicekit.testing import ServiceUnderTest

from .factories import FakeClock, settings_for_tests
from .sent_mail import Postbox

# Booking subscribes to account.erased (nothing listens there in these tests: the outbox keeps
# the undelivered event, which is what they look at).
BOOKING_SUBSCRIBES = [
    {
        "name": "booking",
        "url": "http://127.0.0.1:9/booking/v1/events",
        "secret": "a-secret-shared-with-booking-in-tests",
        "types": ["de.rathaus.identity.account.erased"],
    }
]


def make_app(database_url: str) -> FastAPI:
    # Each app gets its own clock; a test that moves time takes app.state.clock.
    settings = settings_for_tests(database_url, events_subscribers=BOOKING_SUBSCRIBES)
    return create_app(settings, clock=FakeClock())


@pytest.fixture(scope="session")
def service_under_test() -> ServiceUnderTest:
    return ServiceUnderTest(
        name="identity", service_dir=Path(__file__).resolve().parents[1], make_app=make_app
    )


@pytest.fixture
async def postbox(tmp_path: Path) -> AsyncIterator[Postbox]:
    """A real SMTP server on loopback that keeps what it receives."""
    sink = MailSink(tmp_path / "mail")
    port = await sink.start()
    yield Postbox(sink, port)
    await sink.stop()
