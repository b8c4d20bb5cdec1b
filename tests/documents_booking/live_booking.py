"""The real booking service for documents' tests: booking's app on a live loopback server.

Documents asks booking about every booking it touches (whose it is, which documents it needs,
whether it is still open), so its tests talk to booking itself: booking's own app on a database of
its own at head (SQLite or PostgreSQL, like the test), served by uvicorn and trusting the test
run's token keys. An administrator sets up the catalogue and offices, citizens hold and confirm
appointments, all through booking's HTTP API. Only the clock cannot be asked for: booking refuses
appointments in the past, so :meth:`LiveBooking.move_into_past` lets time pass for one booking in
booking's own database, through booking's own models.

Both ``services/documents/tests`` and ``tests/documents_booking`` import this one module as
``tests.documents_booking.live_booking`` (pytest's ``pythonpath`` puts the repository root on
the path), so a run of either or both loads it once.
"""

from __future__ import annotations

import base64
import itertools
import os
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from booking.bookings.models import Booking, SlotClaim
from booking.main import create_app as create_booking_app
from booking.settings import BookingSettings
from documents.settings import DocumentsSettings
from servicekit.db import Database
from servicekit.settings import Environment
from servicekit.testing.live import LiveServer, run_live_server
from servicekit.testing.plugin import DatabaseRegistry
from servicekit.testing.service import ServiceUnderTest
from servicekit.testing.tokens import TokenFactory

ROOT = Path(__file__).resolve().parents[2]
TENANT = "06999001"
BERLIN = ZoneInfo("Europe/Berlin")
APPOINTMENT_MINUTES = 20
OPENS, CLOSES = time(8), time(16)

RequiredDocument = tuple[str, str, bool]
"""A required document of a service: German name, English name, mandatory."""

TWO_MANDATORY: tuple[RequiredDocument, ...] = (
    ("Lichtbild", "Photo", True),
    ("Geburtsurkunde", "Birth certificate", True),
)
TWO_MANDATORY_ONE_OPTIONAL: tuple[RequiredDocument, ...] = (
    ("Reisepass", "Passport", True),
    ("Passfoto", "Photo", True),
    ("Sonstiges", "Other", False),
)


def documents_settings(
    database_url: str, blob_dir: Path, booking_url: str, **overrides: object
) -> DocumentsSettings:
    """Documents' settings for a test against the live booking at ``booking_url``: blobs in
    ``blob_dir``, encrypted under a fresh random key-encryption key."""
    return DocumentsSettings.model_validate(
        {
            "environment": Environment.TEST,
            "database_url": database_url,
            "blob_dir": blob_dir,
            "keks": {"t": base64.b64encode(os.urandom(32)).decode()},
            "active_kek_id": "t",
            "booking_url": booking_url,
            **overrides,
        }
    )


def fresh_database(registry: DatabaseRegistry, backend: str, service: str) -> str:
    """A database of the service's own at head, on SQLite or PostgreSQL."""
    under_test = ServiceUnderTest(
        name=service, service_dir=ROOT / "services" / service, make_app=lambda _: FastAPI()
    )
    return registry.fresh_copy(under_test, backend)


def start_booking_server(
    tokens: TokenFactory, database_url: str, **overrides: object
) -> LiveServer:
    """Booking's app on ``database_url`` under uvicorn (with settings ``overrides``); it trusts
    ``tokens``."""
    app = create_booking_app(
        BookingSettings.model_validate(
            {"environment": Environment.TEST, "database_url": database_url, **overrides}
        )
    )
    tokens.trust(app)
    return run_live_server(app)


@dataclass(frozen=True)
class Office:
    office_id: str
    service_id: str


async def set_up_office(
    booking: httpx.AsyncClient,
    tokens: TokenFactory,
    *,
    documents: Sequence[RequiredDocument] = TWO_MANDATORY,
    clerk: str = "clerk-1",
    service_id: str | None = None,
    tenant: str = TENANT,
    leika: str | None = None,
    admin: dict[str, str] | None = None,
    accepted_formats: Sequence[str] = (),
) -> Office:
    """An administrator's set-up in ``tenant``: a service needing ``documents`` (unless
    ``service_id`` names one already; a random LeiKa key unless given), an office offering it
    every day from 08:00 to 16:00 with two counters, and ``clerk`` on the office's staff. Each
    required document takes ``accepted_formats`` (e.g. ``original``, ``image/jpeg``). The
    administrator's headers are the test key set's, unless ``admin`` gives a booking that
    trusts a real identity its own."""
    admin = admin or tokens.headers(sub="admin-1", tenant=tenant, roles=["admin"])
    if service_id is None:
        service = await booking.post(
            f"/booking/v1/tenants/{tenant}/services",
            json={
                "leika": leika or f"99{uuid.uuid4().int % 10**12:012d}",
                "name": {"de": "Reisepass beantragen", "en": "Passport application"},
                "duration_minutes": APPOINTMENT_MINUTES,
                "required_documents": [
                    {
                        "name": {"de": de, "en": en},
                        "mandatory": mandatory,
                        "accepted_formats": list(accepted_formats),
                    }
                    for de, en, mandatory in documents
                ],
            },
            headers=admin,
        )
        assert service.status_code == 201, service.text
        service_id = str(service.json()["id"])
    office = await booking.post(
        f"/booking/v1/tenants/{tenant}/offices",
        json={
            "name": f"Bürgerbüro {uuid.uuid4().hex[:6]}",
            "address": {"street": "Marktplatz 1", "postal_code": "64283", "city": "Musterstadt"},
            "counters": 2,
            # The tests book days counted from today, whatever the Land's calendar says.
            "opens_on_public_holidays": True,
            "services": [{"service_id": service_id}],
        },
        headers=admin,
    )
    assert office.status_code == 201, office.text
    office_id = str(office.json()["id"])
    hours = await booking.put(
        f"/booking/v1/tenants/{tenant}/offices/{office_id}/opening-hours",
        json={
            "rules": [
                {
                    "weekday": day,
                    "opens": OPENS.strftime("%H:%M"),
                    "closes": CLOSES.strftime("%H:%M"),
                    "valid_from": "2020-01-01",
                }
                for day in range(1, 8)
            ]
        },
        headers=admin,
    )
    assert hours.status_code in {200, 204}, hours.text
    staff = await booking.put(
        f"/booking/v1/tenants/{tenant}/offices/{office_id}/staff/{clerk}", headers=admin
    )
    assert staff.status_code == 204, staff.text
    return Office(office_id=office_id, service_id=service_id)


def local_start(days_ahead: int, hour: int, minute: int = 0) -> datetime:
    """Local ``hour:minute`` in Berlin, ``days_ahead`` days after today there, in UTC."""
    day: date = datetime.now(BERLIN).date() + timedelta(days=days_ahead)
    return datetime.combine(day, time(hour, minute), tzinfo=BERLIN).astimezone(UTC)


def distinct_slots(first_day: int = 1) -> Iterator[datetime]:
    """Every appointment slot of the opening hours, day after day, none twice."""
    per_day = (CLOSES.hour - OPENS.hour) * 60 // APPOINTMENT_MINUTES
    for number in itertools.count():
        days, slot = divmod(number, per_day)
        minutes = slot * APPOINTMENT_MINUTES
        yield local_start(first_day + days, OPENS.hour + minutes // 60, minutes % 60)


@dataclass(frozen=True)
class Appointment:
    booking_id: str
    manage_token: str
    item_ids: list[str]
    starts_at: datetime

    @property
    def link(self) -> dict[str, str]:
        """The headers of the booking's manage link."""
        return {"X-Manage-Token": self.manage_token}

    @property
    def documents_path(self) -> str:
        """Documents' path of this appointment's documents."""
        return f"/documents/v1/bookings/{self.booking_id}/documents"

    def upload_path(self, item: int = 0) -> str:
        """Documents' upload path for the ``item``-th document on the checklist."""
        return f"/documents/v1/bookings/{self.booking_id}/items/{self.item_ids[item]}/documents"


async def book(
    booking: httpx.AsyncClient,
    office: Office,
    *,
    start: datetime,
    headers: dict[str, str] | None = None,
) -> Appointment:
    """Hold ``start`` and confirm it, as the holder of ``headers`` (anonymous without)."""
    held = await booking.post(
        f"/booking/v1/tenants/{TENANT}/holds",
        json={
            "office_id": office.office_id,
            "service_ids": [office.service_id],
            "start": start.isoformat(),
        },
        headers=headers or {},
    )
    assert held.status_code == 201, held.text
    token = held.json()["manage_token"]
    confirmed = await booking.post(
        f"/booking/v1/bookings/{held.json()['id']}/confirm",
        # Booking caps upcoming bookings per e-mail: every appointment has its own.
        json={"name": "Erika Mustermann", "email": f"erika.{uuid.uuid4().hex[:12]}@example.org"},
        headers={"X-Manage-Token": token},
    )
    assert confirmed.status_code == 200, confirmed.text
    items = [str(item["id"]) for item in confirmed.json()["checklist"]]
    starts_at = datetime.fromisoformat(confirmed.json()["starts_at"])
    return Appointment(str(held.json()["id"]), token, items, starts_at)


async def cancel(booking: httpx.AsyncClient, appointment: Appointment) -> httpx.Response:
    """The citizen cancels through the manage link."""
    return await booking.post(
        f"/booking/v1/bookings/{appointment.booking_id}/cancel", headers=appointment.link
    )


@dataclass
class LiveBooking:
    """Booking served for a whole test session, with two offices of one municipality set up.

    ``office`` is where appointments are made, ``clerk-1`` works there; ``other_office`` offers
    the same service (two mandatory documents, then an optional one) and is ``clerk-2``'s.
    Every :meth:`book` and :meth:`reschedule` takes a slot nobody took before.
    """

    server: LiveServer
    database_url: str
    http: httpx.AsyncClient
    office: Office
    other_office: Office
    citizen: dict[str, str]
    """citizen-1's headers for making appointments: signed once, since signing costs tens of
    milliseconds, and valid all day."""
    slots: Iterator[datetime] = field(default_factory=distinct_slots)

    @property
    def url(self) -> str:
        return self.server.url

    @classmethod
    async def start(cls, tokens: TokenFactory, database_url: str) -> LiveBooking:
        server = start_booking_server(tokens, database_url)
        http = httpx.AsyncClient(base_url=server.url, timeout=30)
        try:
            office = await set_up_office(http, tokens, documents=TWO_MANDATORY_ONE_OPTIONAL)
            other = await set_up_office(http, tokens, clerk="clerk-2", service_id=office.service_id)
        except BaseException:
            await http.aclose()
            server.stop()
            raise
        citizen = tokens.headers(
            sub="citizen-1", tenant=TENANT, roles=["citizen"], expires_in=24 * 3600
        )
        return cls(server, database_url, http, office, other, citizen)

    async def stop(self) -> None:
        await self.http.aclose()
        self.server.stop()

    async def book(
        self, headers: dict[str, str] | None = None, *, office: Office | None = None
    ) -> Appointment:
        return await book(self.http, office or self.office, start=next(self.slots), headers=headers)

    async def cancel(self, appointment: Appointment) -> httpx.Response:
        return await cancel(self.http, appointment)

    async def reschedule(self, appointment: Appointment) -> datetime:
        """Move the appointment to a later free slot (manage link); its new start."""
        moved = await self.http.post(
            f"/booking/v1/bookings/{appointment.booking_id}/reschedule",
            json={"start": next(self.slots).isoformat()},
            headers=appointment.link,
        )
        assert moved.status_code == 200, moved.text
        return datetime.fromisoformat(moved.json()["starts_at"])

    async def move_into_past(self, appointment: Appointment, days: int) -> datetime:
        """Let ``days`` pass for this appointment: it and its seats now lie in the past.

        Booking's API refuses to book the past, so this shifts the booking in booking's own
        database with booking's own models, as if the clock had gone on; its new start.
        """
        shift = timedelta(days=days)
        booking_id = uuid.UUID(appointment.booking_id)
        database = Database(self.database_url, pool_size=1)
        try:
            async with database.sessionmaker() as session:
                booking = await session.get(Booking, booking_id)
                assert booking is not None, appointment
                booking.starts_at -= shift
                booking.ends_at -= shift
                for claim in await session.scalars(
                    select(SlotClaim).where(SlotClaim.booking_id == booking_id)
                ):
                    claim.unit_start -= shift
                await session.commit()
                moved = booking.starts_at
        finally:
            await database.dispose()
        return moved
