"""Retention: a citizen's data leaves a booking once the tenant's period after it has passed."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from booking.bookings.models import Booking, SlotClaim
from booking.cli import main
from booking.main import create_app
from booking.retention.service import erase_expired
from booking.settings import BookingSettings
from servicekit.db import create_engine
from servicekit.testing.tokens import TokenFactory

from ..factories import (
    CONTACT,
    OTHER_TENANT,
    TENANT,
    account_booking,
    add_staff,
    at,
    book,
    local_day,
    office_with_service,
)


async def ended_days_ago(session: AsyncSession, booking_id: str, days: int) -> None:
    ends = datetime.now(UTC) - timedelta(days=days)
    await session.execute(
        update(Booking)
        .where(Booking.id == uuid.UUID(booking_id))
        .values(starts_at=ends - timedelta(minutes=20), ends_at=ends)
    )


async def test_erasure_removes_the_citizens_data_and_keeps_the_appointment(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    office, service = await office_with_service(session)
    await add_staff(session, office, "clerk-1")
    foreign_office, foreign_service = await office_with_service(session, tenant=OTHER_TENANT)
    erika = tokens.headers(sub="citizen-erika", tenant=TENANT, roles=["citizen"])
    old = await book(client, office, service, start=at(local_day(3), 9))
    by_account = await account_booking(client, office, service, erika)
    recent = await book(
        client,
        office,
        service,
        start=at(local_day(3), 11),
        contact={"name": "Max", "email": "max@example.org"},
    )
    foreign_old = await book(client, foreign_office, foreign_service, start=at(local_day(3), 9))
    await ended_days_ago(session, old["id"], 91)
    await ended_days_ago(session, by_account, 91)
    await ended_days_ago(session, recent["id"], 89)
    await ended_days_ago(session, foreign_old["id"], 91)
    admin = tokens.headers(sub="admin-1", tenant=TENANT, roles=["admin"])
    url = "/booking/v1/retention/erase"

    by_citizen = await client.post(url, headers=erika)
    first = await client.post(url, headers=admin)
    second = await client.post(url, headers=admin)
    not_all = await client.post(url, params={"all_tenants": "true"}, headers=admin)

    assert by_citizen.status_code == 403
    assert first.status_code == 200, first.text
    assert first.json() == {"erased": 2}
    assert second.json() == {"erased": 0}
    assert not_all.json() == {"erased": 0}  # an admin's tenant only, whatever it asks
    rows = {
        str(b.id): b
        for b in await session.scalars(select(Booking).execution_options(populate_existing=True))
    }
    for erased in (old["id"], by_account):
        booking = rows[erased]
        assert (booking.name, booking.email, booking.phone, booking.citizen_subject) == (
            None,
            None,
            None,
            None,
        )
        assert booking.manage_token_hash == ""
        assert booking.status == "confirmed"  # the appointment itself stays
    assert rows[recent["id"]].email == "max@example.org"
    assert rows[foreign_old["id"]].email == CONTACT["email"]
    # The manage link and the account no longer reach the erased bookings.
    link = await client.get(
        f"/booking/v1/bookings/{old['id']}", headers={"X-Manage-Token": old["manage_token"]}
    )
    assert link.status_code == 404
    mine = await client.get("/booking/v1/bookings", headers=erika)
    assert mine.json()["items"] == []
    # The office still has the appointment, without its contact data.
    ended_day = rows[old["id"]].starts_at.astimezone(ZoneInfo(office.time_zone)).date()
    day = await client.get(
        f"/booking/v1/tenants/{TENANT}/offices/{office.id}/appointments",
        params={"date": ended_day.isoformat()},
        headers=tokens.headers(sub="clerk-1", tenant=TENANT, roles=["clerk"]),
    )
    listed = {item["id"]: item for item in day.json()["items"]}
    assert listed[old["id"]]["contact"] is None


async def test_platform_admins_erase_every_tenant_with_each_tenants_own_period(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory, app: FastAPI
) -> None:
    office, service = await office_with_service(session)
    foreign_office, foreign_service = await office_with_service(session, tenant=OTHER_TENANT)
    mine = await book(client, office, service, start=at(local_day(3), 9))
    foreign = await book(client, foreign_office, foreign_service, start=at(local_day(3), 9))
    await ended_days_ago(session, mine["id"], 10)
    await ended_days_ago(session, foreign["id"], 10)
    settings = BookingSettings(retention_days=30, tenant_retention_days={OTHER_TENANT: 7})

    erased = await erase_expired(
        app.state.database.sessionmaker, settings, now=datetime.now(UTC), tenant=None
    )
    platform = tokens.headers(sub="root", tenant=TENANT, roles=["platform_admin"])
    by_platform = await client.post(
        "/booking/v1/retention/erase", params={"all_tenants": "true"}, headers=platform
    )

    assert erased == 1  # the other tenant keeps 7 days, this one 30
    emails = {
        str(b.id): b.email
        for b in await session.scalars(select(Booking).execution_options(populate_existing=True))
    }
    assert emails == {mine["id"]: CONTACT["email"], foreign["id"]: None}
    assert by_platform.status_code == 200, by_platform.text
    assert by_platform.json() == {"erased": 0}  # the default 90 days erase nothing more


def test_the_erase_command_erases_what_the_endpoint_would(
    fresh_database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def book_one_that_ended_long_ago() -> str:
        app = create_app(BookingSettings(database_url=fresh_database_url))
        database = app.state.database
        async with database.sessionmaker() as session:
            office, service = await office_with_service(session)
            await session.commit()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://booking") as client:
            booking = await book(client, office, service, start=at(local_day(3), 9))
        async with database.sessionmaker() as session:
            await ended_days_ago(session, booking["id"], 91)
            await session.commit()
        await database.dispose()
        booking_id: str = booking["id"]
        return booking_id

    async def email_of(booking_id: str) -> str | None:
        engine = create_engine(fresh_database_url)
        try:
            async with engine.connect() as connection:
                email: str | None = await connection.scalar(
                    select(Booking.email).where(Booking.id == uuid.UUID(booking_id))
                )
                return email
        finally:
            await engine.dispose()

    booking_id = asyncio.run(book_one_that_ended_long_ago())
    monkeypatch.setenv("BOOKING_DATABASE_URL", fresh_database_url)

    main(["erase", "--tenant", TENANT])
    main(["erase"])

    assert capsys.readouterr().out.splitlines() == [
        "erased the citizens' data of 1 bookings",
        "erased the citizens' data of 0 bookings",
    ]
    assert asyncio.run(email_of(booking_id)) is None


async def test_concurrent_erasures_erase_each_booking_once(
    fresh_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("booking.retention.service.BATCH", 3)  # several batches per run
    settings = BookingSettings(database_url=fresh_database_url)
    app = create_app(settings)
    database = app.state.database
    try:
        async with database.sessionmaker() as session:
            office, service = await office_with_service(session)
            await session.commit()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://booking") as client:
            booked = [
                await book(
                    client,
                    office,
                    service,
                    start=at(local_day(3), 8 + n // 3, 20 * (n % 3)),
                    contact={"name": f"Citizen {n}", "email": f"citizen-{n}@example.org"},
                )
                for n in range(10)
            ]
        async with database.sessionmaker() as session:
            for booking in booked:
                await ended_days_ago(session, booking["id"], 91)
            await session.commit()

        runs = await asyncio.gather(
            *(
                erase_expired(database.sessionmaker, settings, now=datetime.now(UTC))
                for _ in range(4)
            )
        )

        assert sum(runs) == 10
        async with database.sessionmaker() as session:
            left = await session.scalars(select(Booking.email).where(Booking.email.is_not(None)))
            assert list(left) == []
    finally:
        await database.dispose()


async def test_erasure_on_request_cancels_what_is_ahead_and_erases_every_booking(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    office, service = await office_with_service(session)
    erika = tokens.headers(sub="citizen-erika", tenant=TENANT, roles=["citizen"])
    ahead = await account_booking(client, office, service, erika)
    past = await book(client, office, service, start=at(local_day(3), 9))  # by e-mail only
    await ended_days_ago(session, past["id"], 10)
    anonymous = await book(client, office, service, start=at(local_day(4), 9))
    other = await book(
        client,
        office,
        service,
        start=at(local_day(4), 9),
        contact={"name": "Max", "email": "max@example.org"},
    )
    url = f"/booking/v1/tenants/{TENANT}/erasures"
    request = {"citizen_subject": "citizen-erika", "email": "Erika@Example.org"}
    admin = tokens.headers(sub="admin-1", tenant=TENANT, roles=["admin"])

    by_clerk = await client.post(
        url, json=request, headers=tokens.headers(sub="c", tenant=TENANT, roles=["clerk"])
    )
    foreign = await client.post(
        url, json=request, headers=tokens.headers(sub="a", tenant=OTHER_TENANT, roles=["admin"])
    )
    nobody = await client.post(url, json={}, headers=admin)
    first = await client.post(url, json=request, headers=admin)
    second = await client.post(url, json=request, headers=admin)

    assert by_clerk.status_code == 403
    assert foreign.status_code == 404
    assert nobody.status_code == 422
    assert first.status_code == 200, first.text
    assert {k: v for k, v in first.json().items() if k != "booking_ids"} == {
        "cancelled": 2,
        "erased": 3,
    }
    assert sorted(first.json()["booking_ids"]) == sorted([ahead, past["id"], anonymous["id"]])
    assert second.json() == {"cancelled": 0, "erased": 0, "booking_ids": []}
    rows = {
        str(b.id): b
        for b in await session.scalars(select(Booking).execution_options(populate_existing=True))
    }
    assert {i: rows[i].status for i in (ahead, past["id"], anonymous["id"])} == {
        ahead: "cancelled",
        past["id"]: "confirmed",  # what has happened stays, without her data
        anonymous["id"]: "cancelled",
    }
    for booking_id in (ahead, past["id"], anonymous["id"]):
        booking = rows[booking_id]
        assert (booking.name, booking.email, booking.citizen_subject) == (None, None, None)
    assert rows[other["id"]].email == "max@example.org"
    seats = await session.scalar(
        select(func.count())
        .select_from(SlotClaim)
        .where(SlotClaim.booking_id.in_([uuid.UUID(ahead), uuid.UUID(anonymous["id"])]))
    )
    assert seats == 0  # the cancelled bookings' seats are free again
