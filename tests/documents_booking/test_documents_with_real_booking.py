"""Documents against the real booking service on a live loopback server.

Booking decides who may see a booking (its citizen, the office's clerks, the manage link);
documents passes the caller's credentials on and must agree. Both apps trust the same test
token keys; each has its own fresh database at head, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI

from booking.main import create_app as create_booking_app
from booking.settings import BookingSettings
from documents.main import create_app as create_documents_app
from documents.settings import DocumentsSettings
from servicekit.settings import Environment
from servicekit.testing.live import LiveServer, run_live_server
from servicekit.testing.plugin import DatabaseRegistry
from servicekit.testing.service import ServiceUnderTest
from servicekit.testing.tokens import TokenFactory

ROOT = Path(__file__).resolve().parents[2]
TENANT = "06999001"
BERLIN = ZoneInfo("Europe/Berlin")
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\nCANARY\n" + b"0" * 3000 + b"\n%%EOF\n"


def fresh_database(registry: DatabaseRegistry, backend: str, service: str) -> str:
    """A database of the service's own at head, on SQLite or PostgreSQL."""
    under_test = ServiceUnderTest(
        name=service, service_dir=ROOT / "services" / service, make_app=lambda _: FastAPI()
    )
    return registry.fresh_copy(under_test, backend)


@pytest.fixture
def booking_server(
    tokens: TokenFactory, database_registry: DatabaseRegistry, db_backend: str
) -> Iterator[LiveServer]:
    app = create_booking_app(
        BookingSettings(
            environment=Environment.TEST,
            database_url=fresh_database(database_registry, db_backend, "booking"),
        )
    )
    tokens.trust(app)
    server = run_live_server(app)
    yield server
    server.stop()


@pytest.fixture
async def documents(
    tmp_path: Path,
    tokens: TokenFactory,
    booking_server: LiveServer,
    database_registry: DatabaseRegistry,
    db_backend: str,
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_documents_app(
        DocumentsSettings.model_validate(
            {
                "environment": Environment.TEST,
                "database_url": fresh_database(database_registry, db_backend, "documents"),
                "blob_dir": tmp_path / "blobs",
                "keks": {"t": base64.b64encode(os.urandom(32)).decode()},
                "active_kek_id": "t",
                "booking_url": booking_server.url,
            }
        )
    )
    tokens.trust(app)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://documents") as client:
            yield client


@dataclass
class Appointment:
    booking_id: str
    manage_token: str
    item_ids: list[str]


async def set_up_office(booking: httpx.AsyncClient, tokens: TokenFactory) -> dict[str, str]:
    admin = tokens.headers(sub="admin-1", tenant=TENANT, roles=["admin"])
    service = await booking.post(
        f"/booking/v1/tenants/{TENANT}/services",
        json={
            "leika": f"99{uuid.uuid4().int % 10**12:012d}",
            "name": {"de": "Reisepass beantragen", "en": "Passport application"},
            "duration_minutes": 20,
            "required_documents": [
                {"name": {"de": "Lichtbild", "en": "Photo"}, "mandatory": True},
                {"name": {"de": "Geburtsurkunde", "en": "Birth certificate"}, "mandatory": True},
            ],
        },
        headers=admin,
    )
    assert service.status_code == 201, service.text
    office = await booking.post(
        f"/booking/v1/tenants/{TENANT}/offices",
        json={
            "name": "Bürgerbüro Mitte",
            "address": {"street": "Marktplatz 1", "postal_code": "64283", "city": "Musterstadt"},
            "counters": 2,
            "services": [{"service_id": service.json()["id"]}],
        },
        headers=admin,
    )
    assert office.status_code == 201, office.text
    office_id = office.json()["id"]
    hours = await booking.put(
        f"/booking/v1/tenants/{TENANT}/offices/{office_id}/opening-hours",
        json={
            "rules": [
                {"weekday": day, "opens": "08:00", "closes": "16:00", "valid_from": "2020-01-01"}
                for day in range(1, 8)
            ]
        },
        headers=admin,
    )
    assert hours.status_code in {200, 204}, hours.text
    staff = await booking.put(
        f"/booking/v1/tenants/{TENANT}/offices/{office_id}/staff/clerk-1", headers=admin
    )
    assert staff.status_code == 204, staff.text
    return {"office_id": office_id, "service_id": service.json()["id"]}


def start_at(days_ahead: int, hour: int) -> str:
    day: date = datetime.now(BERLIN).date() + timedelta(days=days_ahead)
    return datetime.combine(day, time(hour), tzinfo=BERLIN).astimezone(UTC).isoformat()


async def book(
    booking: httpx.AsyncClient,
    office: dict[str, str],
    *,
    hour: int,
    headers: dict[str, str] | None = None,
) -> Appointment:
    held = await booking.post(
        f"/booking/v1/tenants/{TENANT}/holds",
        json={
            "office_id": office["office_id"],
            "service_ids": [office["service_id"]],
            "start": start_at(7, hour),
        },
        headers=headers or {},
    )
    assert held.status_code == 201, held.text
    token = held.json()["manage_token"]
    confirmed = await booking.post(
        f"/booking/v1/bookings/{held.json()['id']}/confirm",
        json={"name": "Erika Mustermann", "email": f"erika{hour}@example.org"},
        headers={"X-Manage-Token": token},
    )
    assert confirmed.status_code == 200, confirmed.text
    items = [item["id"] for item in confirmed.json()["checklist"]]
    return Appointment(held.json()["id"], token, items)


async def test_citizen_clerk_and_strangers_against_real_booking(
    documents: httpx.AsyncClient, booking_server: LiveServer, tokens: TokenFactory
) -> None:
    citizen = tokens.headers(sub="citizen-1", tenant=TENANT, roles=["citizen"])
    stranger = tokens.headers(sub="citizen-2", tenant=TENANT, roles=["citizen"])
    clerk = tokens.headers(sub="clerk-1", tenant=TENANT, roles=["clerk"])
    other_clerk = tokens.headers(sub="clerk-2", tenant=TENANT, roles=["clerk"])
    async with httpx.AsyncClient(base_url=booking_server.url) as booking:
        office = await set_up_office(booking, tokens)
        mine = await book(booking, office, hour=9, headers=citizen)

        upload = await documents.post(
            f"/documents/v1/bookings/{mine.booking_id}/items/{mine.item_ids[0]}/documents",
            content=PDF,
            headers=citizen,
            params={"filename": "Lichtbild.pdf"},
        )
        assert upload.status_code == 201, upload.text
        document_id = upload.json()["id"]

        listed = await documents.get(
            f"/documents/v1/bookings/{mine.booking_id}/documents", headers=citizen
        )
        assert listed.status_code == 200
        assert [i["status"] for i in listed.json()["items"]] == ["submitted", "missing"]
        assert listed.json()["complete"] is False

        by_clerk = await documents.get(
            f"/documents/v1/documents/{document_id}/content",
            headers=clerk,
            params={"purpose": "Terminvorbereitung"},
        )
        assert by_clerk.status_code == 200
        assert by_clerk.content == PDF

        for headers in (stranger, other_clerk, {"X-Manage-Token": "guessed"}):
            denied = await documents.get(
                f"/documents/v1/documents/{document_id}/content",
                headers=headers,
                params={"purpose": "x"},
            )
            assert denied.status_code == 404, headers

        by_link = await documents.get(
            f"/documents/v1/documents/{document_id}/content",
            headers={"X-Manage-Token": mine.manage_token},
        )
        assert by_link.status_code == 200

        cancelled = await booking.post(
            f"/booking/v1/bookings/{mine.booking_id}/cancel",
            headers={"X-Manage-Token": mine.manage_token},
        )
        assert cancelled.status_code == 200, cancelled.text
        late = await documents.post(
            f"/documents/v1/bookings/{mine.booking_id}/items/{mine.item_ids[1]}/documents",
            content=PDF,
            headers=citizen,
        )
        assert late.status_code == 409
        assert late.json()["type"] == "urn:rathaus:problem:booking-closed"


async def test_anonymous_booking_uploads_with_its_manage_link(
    documents: httpx.AsyncClient, booking_server: LiveServer, tokens: TokenFactory
) -> None:
    async with httpx.AsyncClient(base_url=booking_server.url) as booking:
        office = await set_up_office(booking, tokens)
        anonymous = await book(booking, office, hour=10)
    link = {"X-Manage-Token": anonymous.manage_token}

    for item_id in anonymous.item_ids:
        response = await documents.post(
            f"/documents/v1/bookings/{anonymous.booking_id}/items/{item_id}/documents",
            files={"file": ("scan.pdf", PDF, "application/pdf")},
            headers=link,
        )
        assert response.status_code == 201, response.text
    listed = await documents.get(
        f"/documents/v1/bookings/{anonymous.booking_id}/documents", headers=link
    )

    assert listed.json()["complete"] is True
    assert listed.json()["booking_id"] == anonymous.booking_id
