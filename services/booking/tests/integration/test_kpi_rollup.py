"""The KPI rollup gives the answers the visits give: random appointments and visits over
three weeks, asked before and after their days were closed, against the definition."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from booking.bookings.models import Booking, BookingItem, BookingStatus
from booking.catalogue.models import Service
from booking.hours.calendar import day_bounds
from booking.main import create_app
from booking.offices.models import Office
from booking.settings import BookingSettings
from booking.visits.models import KpiDay, Visit
from booking.visits.repository import KpiDayRepository, Period
from booking.visits.rollup import close_days, close_next_days
from booking.visits.service import distribution, remote_visits, totals_of
from servicekit.testing.tokens import TokenFactory

from ..factories import TENANT, at, create_office, create_service, local_day

DAYS = 21
NEW_YORK = "America/New_York"


def _booking(
    rng: random.Random, office: Office, services: list[Service], starts_at: datetime, n: int
) -> Booking:
    booking_id = uuid.uuid4()
    chosen = rng.sample(services, rng.choice([1, 1, 2]))
    minutes = 20 * len(chosen)
    return Booking(
        id=booking_id,
        tenant=TENANT,
        office_id=office.id,
        code=f"R{n:07d}",
        status=rng.choice([BookingStatus.CONFIRMED] * 5 + [BookingStatus.CANCELLED]),
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=minutes),
        hold_expires_at=None,
        citizen_subject=None,
        manage_token_hash="",
        language="de",
        name=None,
        email=None,
        phone=None,
        created_at=starts_at - timedelta(days=30),
        confirmed_at=starts_at - timedelta(days=30),
        cancelled_at=None,
        sequence=0,
        remind_at=None,
        walk_in=rng.random() < 0.15,
        mode=rng.choice(["in_person", "in_person", "video"]),
        items=[
            BookingItem(booking_id=booking_id, position=p, service_id=s.id, duration_minutes=20)
            for p, s in enumerate(chosen)
        ],
    )


def _visit(rng: random.Random, booking: Booking, now: datetime) -> Visit | None:
    """How the appointment's day went, to the microsecond; None for a no-show."""
    if rng.random() < 0.2:
        return None
    checked_in = booking.starts_at + timedelta(seconds=rng.uniform(-900, 600))
    if checked_in > now:
        return None
    visit = Visit(booking_id=booking.id, office_id=booking.office_id, checked_in_at=checked_in)
    called = max(checked_in, booking.starts_at) + timedelta(seconds=rng.uniform(-60, 2400))
    if rng.random() < 0.1 or called > now:
        return visit
    visit.called_at, visit.counter, visit.called_by = called, "1", "clerk-1"
    completed = called + timedelta(seconds=rng.uniform(60, 1800))
    if rng.random() < 0.1 or completed > now:
        return visit
    visit.completed_at, visit.resolved = completed, rng.random() < 0.7
    if rng.random() < 0.5:
        visit.rating, visit.rated_at = rng.randint(1, 5), completed + timedelta(hours=1)
    return visit


async def _expected(
    session: AsyncSession,
    offices: list[Office],
    first: date,
    last: date,
    service_id: uuid.UUID | None,
    now: datetime,
) -> dict[str, Any]:
    """The KPIs from the appointments themselves, by the definition (``totals_of``)."""
    periods = [
        Period(
            [office.id],
            day_bounds(first, ZoneInfo(office.time_zone))[0],
            day_bounds(last, ZoneInfo(office.time_zone))[1],
        )
        for office in offices
    ]
    placed = await KpiDayRepository(session).outcomes(TENANT, periods, service_id)
    days = [each.outcome for each in placed]
    found = totals_of(days, now)
    return {
        "appointments": found.appointments,
        "ended": found.ended,
        "checked_in": found.checked_in,
        "walk_ins": found.walk_ins,
        "no_shows": found.no_shows,
        "no_show_rate": round(found.no_shows / found.ended, 3) if found.ended else None,
        "waiting": distribution(found.waiting).model_dump(),
        "processing": distribution(found.processing).model_dump(),
        "completed": found.completed,
        "first_contact_resolution_rate": (
            round(found.resolved / found.completed, 3) if found.completed else None
        ),
        "satisfaction": distribution(found.ratings).model_dump(),
        "staff_minutes_saved": round(found.saved_minutes, 1),
        "remote": remote_visits(days).model_dump(),
    }


def _figures(kpis: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value
        for key, value in kpis.items()
        if key not in {"date_from", "date_to", "office_id", "service_id"}
    }


async def test_the_rollup_gives_the_kpis_the_visits_give_on_random_data(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    rng = random.Random(20)
    services = [await create_service(session) for _ in range(3)]
    berlin = await create_office(session, *services, name="Mitte")
    new_york = await create_office(session, *services, name="Queens", time_zone=NEW_YORK)
    now = datetime.now(UTC)
    bookings: list[Booking] = []
    visits: list[Visit] = []
    for days_ahead in range(-DAYS, 3):
        for office in (berlin, new_york):
            for _ in range(rng.randint(0, 8)):
                starts_at = at(local_day(days_ahead), rng.randint(7, 17), rng.randint(0, 59))
                booking = _booking(rng, office, services, starts_at, len(bookings))
                if abs(booking.ends_at - now) < timedelta(minutes=5):
                    continue  # it must not end between this test's now and the requests'
                bookings.append(booking)
                if booking.starts_at - timedelta(minutes=15) < now:
                    visit = _visit(rng, booking, now)
                    visits += [visit] if visit is not None else []
    session.add_all(bookings)
    await session.flush()
    session.add_all(visits)
    await session.flush()
    admin = tokens.headers(sub="admin-1", tenant=TENANT, roles=["admin"])
    today = local_day(0)
    asked = [
        (today - timedelta(days=DAYS + 1), today + timedelta(days=3), None, None),
        (today - timedelta(days=10), today - timedelta(days=3), None, None),
        (today - timedelta(days=DAYS), today, berlin, None),
        (today - timedelta(days=5), today - timedelta(days=5), new_york, None),
        (today - timedelta(days=DAYS), today + timedelta(days=1), None, services[0]),
        (today - timedelta(days=14), today - timedelta(days=1), berlin, services[1]),
    ]

    async def answers() -> list[dict[str, Any]]:
        found = []
        for first, last, office, service in asked:
            params = {"from": first.isoformat(), "to": last.isoformat()}
            if office is not None:
                params["office_id"] = str(office.id)
            if service is not None:
                params["service_id"] = str(service.id)
            response = await client.get(
                f"/booking/v1/tenants/{TENANT}/kpis", params=params, headers=admin
            )
            assert response.status_code == 200, response.text
            found.append(_figures(response.json()))
        return found

    before = await answers()
    repository = KpiDayRepository(session)
    for office in (berlin, new_york):
        while await close_next_days(repository, TENANT, office.time_zone, [office.id], now):
            pass
        closed = await repository.closed_through(TENANT, office.time_zone)
        assert closed == now.astimezone(ZoneInfo(office.time_zone)).date() - timedelta(days=1)
    after = await answers()

    expected = [
        await _expected(
            session,
            [office] if office is not None else [berlin, new_york],
            first,
            last,
            service.id if service is not None else None,
            now,
        )
        for first, last, office, service in asked
    ]
    assert before == expected
    assert after == expected
    assert expected[0]["waiting"]["count"] > 50  # the data says something
    assert expected[0]["remote"]["completed"] > 0


async def test_parallel_runs_of_the_nightly_job_close_each_day_once(
    fresh_database_url: str,
) -> None:
    # compose repeats `rathaus-booking kpi-days`, Kubernetes runs it as a CronJob: two copies
    # at once must close each day once, and a third finds nothing left to do.
    database = create_app(BookingSettings(database_url=fresh_database_url)).state.database
    rng = random.Random(7)
    now = datetime.now(UTC)
    try:
        async with database.sessionmaker() as session:
            services = [await create_service(session) for _ in range(2)]
            office = await create_office(session, *services, name="Mitte")
            bookings = [
                _booking(rng, office, services, at(local_day(days), rng.randint(8, 16), 0), n)
                for n, days in enumerate(d for d in range(-6, 0) for _ in range(4))
            ]
            session.add_all(bookings)
            await session.flush()
            session.add_all(v for b in bookings if (v := _visit(rng, b, now)) is not None)
            await session.commit()

        runs = await asyncio.gather(
            *(close_days(database.sessionmaker, now=now, tenant=TENANT) for _ in range(4))
        )

        async with database.sessionmaker() as session:
            closed = await KpiDayRepository(session).closed_through(TENANT, office.time_zone)
            rows = (await session.execute(select(func.count()).select_from(KpiDay))).scalar_one()
        assert closed == now.astimezone(ZoneInfo(office.time_zone)).date() - timedelta(days=1)
        assert await close_days(database.sessionmaker, now=now, tenant=TENANT) == 0
        alone = await close_days(database.sessionmaker, now=now, tenant=TENANT, rebuild=True)
        assert sum(runs) == alone > 0
        async with database.sessionmaker() as session:
            again = (await session.execute(select(func.count()).select_from(KpiDay))).scalar_one()
        assert rows == again > 0
    finally:
        await database.dispose()
