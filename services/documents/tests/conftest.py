from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from moto.server import ThreadedMotoServer

from documents.main import create_app
from servicekit.testing import ServiceUnderTest
from servicekit.testing.live import LiveServer, free_port, run_live_server
from servicekit.testing.plugin import DatabaseRegistry
from servicekit.testing.tokens import TokenFactory
from tests.documents_booking.live_booking import Appointment, LiveBooking, fresh_database

from .clamd import Clamd
from .factories import settings_for_tests

# One folder for every test app's blobs, removed when the run ends.
BLOB_ROOT = Path(tempfile.mkdtemp(prefix="documents-test-blobs-"))
atexit.register(shutil.rmtree, BLOB_ROOT, ignore_errors=True)


def make_app(database_url: str, *, booking_url: str) -> FastAPI:
    blob_dir = Path(tempfile.mkdtemp(dir=BLOB_ROOT))
    return create_app(settings_for_tests(database_url, blob_dir=blob_dir, booking_url=booking_url))


@pytest.fixture(scope="session")
def service_under_test(live_booking: LiveBooking) -> ServiceUnderTest:
    """Documents, configured to ask the live booking service of this backend."""
    return ServiceUnderTest(
        name="documents",
        service_dir=Path(__file__).resolve().parents[1],
        make_app=functools.partial(make_app, booking_url=live_booking.url),
    )


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3-compatible server (moto's server mode) on a loopback port."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="session")
def clamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clamd]:
    """A real clamd with the repository's test signatures, for the whole run (skipped, loudly,
    where clamav-daemon is not installed)."""
    server = Clamd(tmp_path_factory.mktemp("clamd"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_clamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clamd]:
    """A real clamd of the test's own, which the test may stop and start again."""
    server = Clamd(tmp_path_factory.mktemp("own-clamd"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
async def live_booking(
    tokens: TokenFactory, database_registry: DatabaseRegistry, db_backend: str
) -> AsyncIterator[LiveBooking]:
    """The real booking service on its own database (this run's backend), for every test."""
    booking = await LiveBooking.start(
        tokens, fresh_database(database_registry, db_backend, "booking")
    )
    yield booking
    await booking.stop()


@pytest.fixture
async def app(app: FastAPI) -> AsyncIterator[FastAPI]:
    """The plugin's app under test; its lifespan does not run, so its booking client (which
    talks to the live booking service) is closed here."""
    yield app
    await app.state.booking_client.aclose()


@pytest.fixture
async def appointment(live_booking: LiveBooking) -> AsyncIterator[Appointment]:
    """A fresh appointment of citizen-1 at ``live_booking.office``, cancelled afterwards."""
    booked = await live_booking.book(live_booking.citizen)
    yield booked
    # Frees citizen-1's quota of upcoming bookings; a begun appointment cannot be cancelled.
    cancelled = await live_booking.cancel(booked)
    assert cancelled.status_code in {200, 409}, cancelled.text


LiveDocuments = Callable[..., tuple[LiveServer, FastAPI]]


@pytest.fixture
def start_live_documents(
    tokens: TokenFactory, live_booking: LiveBooking
) -> Iterator[LiveDocuments]:
    """Starts documents apps under uvicorn on a given database (with settings overridden),
    asking the live booking service; they are stopped after the test."""
    servers: list[LiveServer] = []

    def start(database_url: str, **overrides: object) -> tuple[LiveServer, FastAPI]:
        settings = settings_for_tests(
            database_url,
            blob_dir=Path(tempfile.mkdtemp(dir=BLOB_ROOT)),
            booking_url=live_booking.url,
            **overrides,
        )
        app = create_app(settings)
        tokens.trust(app)
        servers.append(run_live_server(app))
        return servers[-1], app

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def live_documents(
    fresh_database_url: str, start_live_documents: LiveDocuments
) -> tuple[LiveServer, FastAPI]:
    """The documents app under uvicorn on a fresh database, asking the live booking service."""
    return start_live_documents(fresh_database_url)
