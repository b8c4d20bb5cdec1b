"""Plain factory functions for the booking tests (no fixtures hiding data)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from booking.catalogue.models import RequiredDocument, Service
from booking.hours.models import OpeningRule
from booking.offices.models import Office, OfficeService, OfficeStaff

TENANT = "06999001"
OTHER_TENANT = "06999002"
OPT_IN_TENANT = "06999003"
"""A municipality with booking's default mail settings (double opt-in on)."""
IDENTITY_EVENT_SECRET = "identity-events-secret-for-booking-tests"
"""What identity signs the events it sends booking with (in these tests)."""
BERLIN = ZoneInfo("Europe/Berlin")
PORTAL_URL = "https://termine.musterstadt.example"
LETTERHEAD = {
    "sender_name": "Stadt Musterstadt",
    "reply_to": "buergerbuero@musterstadt.example",
    "imprint": "Stadt Musterstadt, Marktplatz 1, 12345 Musterstadt",
    "privacy_url": "https://www.musterstadt.example/datenschutz",
}
"""The test municipality's mail settings (``BOOKING_TENANT_MAIL``)."""


async def create_service(
    session: AsyncSession,
    *,
    tenant: str = TENANT,
    leika: str | None = None,
    duration_minutes: int = 20,
    name: str = "Personalausweis beantragen",
    documents: Iterable[tuple[str, bool]] = (("Reisepass", True), ("Lichtbild", True)),
    fee_cents: int | None = None,
) -> Service:
    service = Service(
        tenant=tenant,
        leika=leika or f"99{uuid.uuid4().int % 10**12:012d}",
        name_de=name,
        name_en=f"{name} (en)",
        description_de="",
        description_en="",
        duration_minutes=duration_minutes,
        fee_cents=fee_cents,
        documents=[
            RequiredDocument(
                id=uuid.uuid4(),
                position=position,
                name_de=doc_name,
                name_en=f"{doc_name} (en)",
                description_de="",
                description_en="",
                mandatory=mandatory,
                accepted_formats=["original"],
            )
            for position, (doc_name, mandatory) in enumerate(documents)
        ],
    )
    session.add(service)
    await session.flush()
    return service


async def create_office(
    session: AsyncSession,
    *services: Service,
    tenant: str = TENANT,
    counters: int = 1,
    slot_minutes: int = 10,
    bookable_from_days: int = 0,
    bookable_until_days: int = 60,
    durations: dict[uuid.UUID, int] | None = None,
    name: str = "Bürgerbüro Mitte",
    time_zone: str = "Europe/Berlin",
    opens_on_public_holidays: bool = True,
) -> Office:
    """An office; unlike the API's default it opens on the Land's public holidays, so that a
    test on a day counted from today does not depend on the calendar (the holiday tests say
    ``opens_on_public_holidays=False``)."""
    office = Office(
        tenant=tenant,
        name=name,
        street="Marktplatz 1",
        postal_code="64283",
        city="Musterstadt",
        latitude=49.87,
        longitude=8.65,
        time_zone=time_zone,
        counters=counters,
        slot_minutes=slot_minutes,
        bookable_from_days=bookable_from_days,
        bookable_until_days=bookable_until_days,
        opens_on_public_holidays=opens_on_public_holidays,
        services=[
            OfficeService(service_id=s.id, duration_minutes=(durations or {}).get(s.id))
            for s in services
        ],
    )
    session.add(office)
    await session.flush()
    return office


async def open_every_day(
    session: AsyncSession,
    office: Office,
    *,
    opens: time = time(8),
    closes: time = time(12),
    breaks: Iterable[tuple[str, str]] = (),
    weekdays: Iterable[int] = range(1, 8),
) -> None:
    for weekday in weekdays:
        session.add(
            OpeningRule(
                office_id=office.id,
                weekday=weekday,
                opens=opens,
                closes=closes,
                breaks=[{"start": start, "end": end} for start, end in breaks],
                valid_from=date(2020, 1, 1),
                valid_until=None,
            )
        )
    await session.flush()


async def add_staff(session: AsyncSession, office: Office, subject: str) -> None:
    session.add(OfficeStaff(office_id=office.id, subject=subject))
    await session.flush()


def local_day(days_ahead: int = 7) -> date:
    return datetime.now(BERLIN).date() + timedelta(days=days_ahead)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A local Berlin wall time as an aware UTC instant."""
    return datetime.combine(day, time(hour, minute), tzinfo=BERLIN).astimezone(UTC)


def iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat()


def hold_body(office: Office, *services: Service, start: datetime) -> dict[str, Any]:
    return {
        "office_id": str(office.id),
        "service_ids": [str(s.id) for s in services],
        "start": iso(start),
    }


CONTACT = {"name": "Erika Mustermann", "email": "erika@example.org"}


async def hold(
    client: httpx.AsyncClient,
    office: Office,
    *services: Service,
    start: datetime,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await client.post(
        f"/booking/v1/tenants/{office.tenant}/holds",
        json=hold_body(office, *services, start=start),
        headers=headers or {},
    )


async def book(
    client: httpx.AsyncClient,
    office: Office,
    *services: Service,
    start: datetime,
    contact: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Hold and confirm anonymously; the confirmed booking plus its manage token."""
    held = await hold(client, office, *services, start=start)
    assert held.status_code == 201, held.text
    token = held.json()["manage_token"]
    confirmed = await client.post(
        f"/booking/v1/bookings/{held.json()['id']}/confirm",
        json=contact or CONTACT,
        headers={"X-Manage-Token": token},
    )
    assert confirmed.status_code == 200, confirmed.text
    body: dict[str, Any] = confirmed.json()
    body["manage_token"] = token
    return body


async def office_with_service(
    session: AsyncSession, tenant: str = TENANT
) -> tuple[Office, Service]:
    service = await create_service(session, tenant=tenant)
    office = await create_office(session, service, tenant=tenant, counters=3)
    await open_every_day(session, office)
    return office, service


async def account_booking(
    client: httpx.AsyncClient, office: Office, service: Service, headers: dict[str, str]
) -> str:
    held = await hold(client, office, service, start=at(local_day(3), 10), headers=headers)
    assert held.status_code == 201, held.text
    booking_id: str = held.json()["id"]
    confirmed = await client.post(
        f"/booking/v1/bookings/{booking_id}/confirm", json=CONTACT, headers=headers
    )
    assert confirmed.status_code == 200, confirmed.text
    return booking_id
