"""Races through a real server: many parallel requests, one database deciding."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from booking.bookings.models import Booking, BookingStatus, SlotClaim
from booking.mail.models import OutboxMail
from booking.visits.models import EVERY, KpiDay, Visit
from booking.visits.rollup import close_days
from booking.waitlist.models import Subscription
from servicekit.db import create_engine
from servicekit.testing import LiveServer
from servicekit.testing.tokens import TokenFactory

from ..factories import TENANT, at, local_day

PARALLEL = 50


@pytest.fixture
async def http(live_service: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=PARALLEL * 2, max_keepalive_connections=PARALLEL * 2)
    async with httpx.AsyncClient(base_url=live_service.url, limits=limits, timeout=120) as client:
        yield client


@pytest.fixture
async def engine(fresh_database_url: str) -> AsyncIterator[AsyncEngine]:
    # The same database the live service runs on (the fixture value is shared per test).
    database = create_engine(fresh_database_url, pool_size=2)
    yield database
    await database.dispose()


async def setup_office(
    http: httpx.AsyncClient, tokens: TokenFactory, *, counters: int, name: str = "Bürgerbüro"
) -> tuple[str, str]:
    admin = tokens.headers(sub="admin-1", tenant=TENANT, roles=["admin"])
    base = f"/booking/v1/tenants/{TENANT}"
    service = await http.get(f"{base}/services", params={"leika": "99115001001000"})
    items = service.json()["items"]
    if items:
        service_id = items[0]["id"]
    else:
        created = await http.post(
            f"{base}/services",
            json={
                "leika": "99115001001000",
                "name": {"de": "Personalausweis", "en": "Identity card"},
                "duration_minutes": 20,
                "required_documents": [{"name": {"de": "Lichtbild", "en": "Photo"}}],
            },
            headers=admin,
        )
        assert created.status_code == 201, created.text
        service_id = created.json()["id"]
    office = await http.post(
        f"{base}/offices",
        json={
            "name": name,
            "address": {"street": "Markt 1", "postal_code": "64283", "city": "Musterstadt"},
            "counters": counters,
            # The tests book days counted from today, whatever the Land's calendar says.
            "opens_on_public_holidays": True,
            "services": [{"service_id": service_id}],
        },
        headers=admin,
    )
    assert office.status_code == 201, office.text
    office_id = office.json()["id"]
    hours = await http.put(
        f"{base}/offices/{office_id}/opening-hours",
        json={
            "rules": [
                {"weekday": d, "opens": "08:00", "closes": "12:00", "valid_from": "2020-01-01"}
                for d in range(1, 8)
            ]
        },
        headers=admin,
    )
    assert hours.status_code == 200, hours.text
    return office_id, service_id


async def race(http: httpx.AsyncClient, requests: list[dict[str, Any]]) -> list[httpx.Response]:
    async def send(request: dict[str, Any]) -> httpx.Response:
        return await http.request(**request)

    return list(await asyncio.gather(*(send(r) for r in requests)))


async def parallel_holds(
    http: httpx.AsyncClient, office_id: str, service_id: str, count: int
) -> list[httpx.Response]:
    """``count`` citizens hold the same slot (9:00 in three days) at once."""
    return await race(
        http,
        [
            {
                "method": "POST",
                "url": f"/booking/v1/tenants/{TENANT}/holds",
                "json": {
                    "office_id": office_id,
                    "service_ids": [service_id],
                    "start": at(local_day(3), 9).isoformat(),
                },
            }
            for _ in range(count)
        ],
    )


async def confirmed_bookings(
    http: httpx.AsyncClient, office_id: str, service_id: str, count: int
) -> dict[str, str]:
    """``count`` citizens hold the same slot at once and confirm it, each under their own
    e-mail; their manage tokens by booking id."""
    holds = await parallel_holds(http, office_id, service_id, count)
    tokens_by_id = {h.json()["id"]: h.json()["manage_token"] for h in holds}
    for n, (booking_id, token) in enumerate(tokens_by_id.items()):
        confirmed = await http.post(
            f"/booking/v1/bookings/{booking_id}/confirm",
            json={"name": "Citizen", "email": f"citizen-{n}@example.org"},
            headers={"X-Manage-Token": token},
        )
        assert confirmed.status_code == 200, confirmed.text
    return tokens_by_id


def statuses(responses: list[httpx.Response]) -> Counter[int]:
    return Counter(r.status_code for r in responses)


@pytest.mark.parametrize("capacity", [1, 3])
async def test_parallel_holds_on_one_slot_never_exceed_its_counters(
    http: httpx.AsyncClient, engine: AsyncEngine, tokens: TokenFactory, capacity: int
) -> None:
    office_id, service_id = await setup_office(http, tokens, counters=capacity)
    start = at(local_day(3), 9)
    body = {"office_id": office_id, "service_ids": [service_id], "start": start.isoformat()}

    responses = await race(
        http,
        [
            {"method": "POST", "url": f"/booking/v1/tenants/{TENANT}/holds", "json": body}
            for _ in range(PARALLEL)
        ],
    )

    assert statuses(responses) == {201: capacity, 409: PARALLEL - capacity}
    for response in responses:
        if response.status_code == 409:
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["type"] == "urn:rathaus:problem:slot-taken"
    async with engine.connect() as connection:
        claims = await connection.execute(
            select(SlotClaim.unit_start, func.count())
            .where(SlotClaim.office_id == uuid.UUID(office_id))
            .group_by(SlotClaim.unit_start)
        )
        assert sorted(count for _, count in claims) == [capacity, capacity]
        held = await connection.scalar(select(func.count()).select_from(Booking))
        assert held == capacity


@pytest.mark.parametrize("capacity", [1, 3])
async def test_parallel_holds_on_seats_of_expired_holds_take_each_seat_once(
    http: httpx.AsyncClient,
    engine: AsyncEngine,
    tokens: TokenFactory,
    live_service: LiveServer,
    capacity: int,
) -> None:
    # Every seat is held by a hold that has run out: each claimer frees (deletes) the expired
    # claim of the seat it takes, so they race for the same rows in two steps. The holds run
    # out behind the server's back, so its seat gate must not go on remembering the slot full.
    served = live_service.server.config.app
    assert isinstance(served, FastAPI)
    served.state.booking_desk.gate.memory_seconds = 0
    office_id, service_id = await setup_office(http, tokens, counters=capacity)
    start = at(local_day(3), 9)
    body = {"office_id": office_id, "service_ids": [service_id], "start": start.isoformat()}
    url = f"/booking/v1/tenants/{TENANT}/holds"
    first = await race(http, [{"method": "POST", "url": url, "json": body}] * capacity)
    assert statuses(first) == {201: capacity}
    past = datetime.now(UTC) - timedelta(seconds=1)
    async with engine.begin() as connection:
        await connection.execute(update(SlotClaim).values(expires_at=past))
        await connection.execute(update(Booking).values(hold_expires_at=past))

    responses = await race(http, [{"method": "POST", "url": url, "json": body}] * PARALLEL)

    assert statuses(responses) == {201: capacity, 409: PARALLEL - capacity}
    winners = {uuid.UUID(r.json()["id"]) for r in responses if r.status_code == 201}
    async with engine.connect() as connection:
        claims = await connection.execute(
            select(SlotClaim.unit_start, SlotClaim.booking_id).where(
                SlotClaim.office_id == uuid.UUID(office_id)
            )
        )
        by_unit = Counter(unit for unit, _ in claims.all())
        owners = set(
            await connection.scalars(
                select(SlotClaim.booking_id).where(SlotClaim.office_id == uuid.UUID(office_id))
            )
        )
    assert sorted(by_unit.values()) == [capacity, capacity]
    assert owners == winners


async def test_parallel_confirmations_of_one_hold_confirm_it_once(
    http: httpx.AsyncClient, engine: AsyncEngine, tokens: TokenFactory
) -> None:
    office_id, service_id = await setup_office(http, tokens, counters=1)
    held = await http.post(
        f"/booking/v1/tenants/{TENANT}/holds",
        json={
            "office_id": office_id,
            "service_ids": [service_id],
            "start": at(local_day(3), 9).isoformat(),
        },
    )
    token = held.json()["manage_token"]

    responses = await race(
        http,
        [
            {
                "method": "POST",
                "url": f"/booking/v1/bookings/{held.json()['id']}/confirm",
                "json": {"name": "Erika", "email": "erika@example.org"},
                "headers": {"X-Manage-Token": token},
            }
            for _ in range(20)
        ],
    )

    assert statuses(responses) == {200: 1, 409: 19}


@pytest.mark.parametrize("capacity", [1, 3])
async def test_parallel_reschedules_into_one_slot_move_only_as_many_as_it_holds(
    http: httpx.AsyncClient, engine: AsyncEngine, tokens: TokenFactory, capacity: int
) -> None:
    crowded, service_id = await setup_office(http, tokens, counters=PARALLEL, name="Groß")
    target, _ = await setup_office(http, tokens, counters=capacity, name="Klein")
    day = local_day(3)
    holds = await race(
        http,
        [
            {
                "method": "POST",
                "url": f"/booking/v1/tenants/{TENANT}/holds",
                "json": {
                    "office_id": crowded,
                    "service_ids": [service_id],
                    "start": at(day, 9).isoformat(),
                },
            }
            for _ in range(PARALLEL)
        ],
    )
    assert statuses(holds) == {201: PARALLEL}
    confirmations = await race(
        http,
        [
            {
                "method": "POST",
                "url": f"/booking/v1/bookings/{h.json()['id']}/confirm",
                "json": {"name": f"Bürger {n}", "email": f"b{n}@example.org"},
                "headers": {"X-Manage-Token": h.json()["manage_token"]},
            }
            for n, h in enumerate(holds)
        ],
    )
    assert statuses(confirmations) == {200: PARALLEL}

    moves = await race(
        http,
        [
            {
                "method": "POST",
                "url": f"/booking/v1/bookings/{h.json()['id']}/reschedule",
                "json": {"start": at(day, 10).isoformat(), "office_id": target},
                "headers": {"X-Manage-Token": h.json()["manage_token"]},
            }
            for h in holds
        ],
    )

    assert statuses(moves) == {200: capacity, 409: PARALLEL - capacity}
    async with engine.connect() as connection:
        per_office = dict(
            (
                await connection.execute(
                    select(Booking.office_id, func.count())
                    .where(Booking.status == BookingStatus.CONFIRMED)
                    .group_by(Booking.office_id)
                )
            ).all()
        )
        assert per_office == {
            uuid.UUID(target): capacity,
            uuid.UUID(crowded): PARALLEL - capacity,
        }
        target_claims = await connection.execute(
            select(SlotClaim.unit_start, func.count())
            .where(SlotClaim.office_id == uuid.UUID(target))
            .group_by(SlotClaim.unit_start)
        )
        assert sorted(count for _, count in target_claims) == [capacity, capacity]
        crowded_claims = await connection.scalar(
            select(func.count())
            .select_from(SlotClaim)
            .where(SlotClaim.office_id == uuid.UUID(crowded))
        )
        assert crowded_claims == 2 * (PARALLEL - capacity)


async def test_parallel_duplicates_with_one_idempotency_key_create_one_hold(
    http: httpx.AsyncClient, engine: AsyncEngine, tokens: TokenFactory
) -> None:
    office_id, service_id = await setup_office(http, tokens, counters=3)
    body = {
        "office_id": office_id,
        "service_ids": [service_id],
        "start": at(local_day(3), 9).isoformat(),
    }
    headers = {
        **tokens.headers(sub="citizen-erika", tenant=TENANT, roles=["citizen"]),
        "Idempotency-Key": "e4f7d3d5-826b-4d71-9c9d-6c4f5f2b3d34",
    }

    responses = await race(
        http,
        [
            {
                "method": "POST",
                "url": f"/booking/v1/tenants/{TENANT}/holds",
                "json": body,
                "headers": headers,
            }
            for _ in range(20)
        ],
    )

    assert set(statuses(responses)) <= {201, 409}
    created = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(created) == 1
    for response in responses:
        if response.status_code == 409:
            assert response.json()["type"] == "urn:rathaus:problem:idempotent-request-in-progress"
    async with engine.connect() as connection:
        assert await connection.scalar(select(func.count()).select_from(Booking)) == 1


async def test_strangers_with_one_idempotency_key_never_share_an_answer(
    live_service: LiveServer, engine: AsyncEngine, tokens: TokenFactory
) -> None:
    """Two anonymous callers (two client addresses) send the same key and body at once: each
    gets a hold of its own with its own manage token, and neither's key blocks the other."""
    async with httpx.AsyncClient(base_url=live_service.url, timeout=120) as admin_http:
        office_id, service_id = await setup_office(admin_http, tokens, counters=3)
    body = {
        "office_id": office_id,
        "service_ids": [service_id],
        "start": at(local_day(3), 9).isoformat(),
    }
    request: dict[str, Any] = {
        "method": "POST",
        "url": f"/booking/v1/tenants/{TENANT}/holds",
        "json": body,
        "headers": {"Idempotency-Key": "shared-key-0000000000000001"},
    }

    async def stranger(address: str) -> list[httpx.Response]:
        transport = httpx.AsyncHTTPTransport(local_address=address)
        async with httpx.AsyncClient(
            base_url=live_service.url, transport=transport, timeout=120
        ) as client:
            return await race(client, [request for _ in range(10)])

    first, second = await asyncio.gather(stranger("127.0.0.1"), stranger("127.0.0.2"))

    answers = []
    for responses in (first, second):
        assert set(statuses(responses)) <= {201, 409}, [r.text for r in responses]
        created = {(r.json()["id"], r.json()["manage_token"]) for r in responses if r.is_success}
        assert len(created) == 1
        answers.append(created.pop())
    assert answers[0][0] != answers[1][0]
    assert answers[0][1] != answers[1][1]
    # Each stranger's retry replays its own answer, never the other's.
    for address, (booking_id, token) in zip(("127.0.0.1", "127.0.0.2"), answers, strict=True):
        transport = httpx.AsyncHTTPTransport(local_address=address)
        async with httpx.AsyncClient(base_url=live_service.url, transport=transport) as client:
            replay = await client.request(**request)
        assert replay.status_code == 201
        assert replay.headers["Idempotent-Replayed"] == "true"
        assert (replay.json()["id"], replay.json()["manage_token"]) == (booking_id, token)
    async with engine.connect() as connection:
        assert await connection.scalar(select(func.count()).select_from(Booking)) == 2


async def test_parallel_confirmations_by_one_email_respect_the_open_booking_cap(
    http: httpx.AsyncClient, engine: AsyncEngine, tokens: TokenFactory
) -> None:
    office_id, service_id = await setup_office(http, tokens, counters=20)
    holds = await parallel_holds(http, office_id, service_id, 20)
    assert statuses(holds) == {201: 20}

    confirmations = await race(
        http,
        [
            {
                "method": "POST",
                "url": f"/booking/v1/bookings/{h.json()['id']}/confirm",
                "json": {"name": "Erika", "email": "erika@example.org"},
                "headers": {"X-Manage-Token": h.json()["manage_token"]},
            }
            for h in holds
        ],
    )

    assert statuses(confirmations) == {200: 2, 409: 18}
    async with engine.connect() as connection:
        confirmed = await connection.scalar(
            select(func.count())
            .select_from(Booking)
            .where(Booking.status == BookingStatus.CONFIRMED)
        )
        assert confirmed == 2


async def test_parallel_calls_of_clerks_call_each_waiting_citizen_once(
    http: httpx.AsyncClient, engine: AsyncEngine, tokens: TokenFactory
) -> None:
    office_id, service_id = await setup_office(http, tokens, counters=10)
    waiting = 5
    tokens_by_id = await confirmed_bookings(http, office_id, service_id, waiting)
    # Their appointments begin now (moved behind the service's back), and they check in.
    now = datetime.now(UTC)
    async with engine.begin() as connection:
        await connection.execute(
            update(Booking)
            .where(Booking.office_id == uuid.UUID(office_id))
            .values(starts_at=now, ends_at=now + timedelta(minutes=20))
        )
    for booking_id, token in tokens_by_id.items():
        checked_in = await http.post(
            f"/booking/v1/bookings/{booking_id}/check-in", headers={"X-Manage-Token": token}
        )
        assert checked_in.status_code == 200, checked_in.text

    calls = await race(
        http,
        [
            {
                "method": "POST",
                "url": f"/booking/v1/tenants/{TENANT}/offices/{office_id}/queue/call",
                "json": {"counter": str(n)},
                "headers": tokens.headers(sub=f"admin-{n}", tenant=TENANT, roles=["admin"]),
            }
            for n in range(PARALLEL)
        ],
    )

    assert statuses(calls) == {200: waiting, 409: PARALLEL - waiting}
    called = [c.json()["booking_id"] for c in calls if c.status_code == 200]
    assert sorted(called) == sorted(tokens_by_id)
    assert {c.json()["type"] for c in calls if c.status_code == 409} == {
        "urn:rathaus:problem:nobody-waiting"
    }
    async with engine.connect() as connection:
        rows = (await connection.execute(select(Visit.booking_id, Visit.counter))).all()
    assert len(rows) == waiting
    counters = {str(booking_id): counter for booking_id, counter in rows}
    assert counters == {
        c.json()["booking_id"]: c.json()["counter"] for c in calls if c.status_code == 200
    }


@pytest.mark.parametrize("subscribers", [10, 5])
async def test_parallel_cancellations_offer_each_seat_once_and_each_subscriber_once(
    http: httpx.AsyncClient, engine: AsyncEngine, tokens: TokenFactory, subscribers: int
) -> None:
    office_id, service_id = await setup_office(http, tokens, counters=1)
    day = local_day(3)
    starts = [at(day, 8) + timedelta(minutes=20 * n) for n in range(10)]
    booked = []
    for start in starts:
        held = await http.post(
            f"/booking/v1/tenants/{TENANT}/holds",
            json={"office_id": office_id, "service_ids": [service_id], "start": start.isoformat()},
        )
        token = held.json()["manage_token"]
        confirmed = await http.post(
            f"/booking/v1/bookings/{held.json()['id']}/confirm",
            json={"name": "Erika", "email": f"erika-{held.json()['code']}@example.org"},
            headers={"X-Manage-Token": token},
        )
        assert confirmed.status_code == 200, confirmed.text
        booked.append((held.json()["id"], token))
    for n in range(subscribers):
        subscribed = await http.post(
            f"/booking/v1/tenants/{TENANT}/waitlist",
            json={
                "service_id": service_id,
                "office_id": office_id,
                "first_day": day.isoformat(),
                "last_day": day.isoformat(),
                "name": f"Wartende {n}",
                "email": f"waiting-{n}@example.org",
            },
            headers=tokens.headers(sub=f"waiting-{n}", tenant=TENANT, roles=["citizen"]),
        )
        assert subscribed.json()["status"] == "waiting", subscribed.text

    responses = await race(
        http,
        [
            {
                "method": "POST",
                "url": f"/booking/v1/bookings/{booking_id}/cancel",
                "headers": {"X-Manage-Token": token},
            }
            for booking_id, token in booked
        ],
    )

    assert statuses(responses) == {200: 10}
    async with engine.connect() as connection:
        offers = (
            await connection.execute(
                select(Subscription.id, Subscription.status, Subscription.offer_booking_id)
            )
        ).all()
        held_starts = list(
            await connection.scalars(
                select(Booking.starts_at).where(
                    Booking.id.in_([row.offer_booking_id for row in offers]),
                    Booking.status == BookingStatus.HELD,
                )
            )
        )
        claims = Counter(
            (await connection.execute(select(SlotClaim.unit_start, SlotClaim.seat))).all()
        )
        mails = Counter(
            await connection.scalars(
                select(OutboxMail.subject_key).where(OutboxMail.template == "waitlist_offer")
            )
        )
    assert [row.status for row in offers] == ["offered"] * subscribers
    assert len({row.offer_booking_id for row in offers}) == subscribers
    assert len(held_starts) == len(set(held_starts)) == subscribers  # each seat offered once
    assert {start.astimezone(UTC) for start in held_starts} <= set(starts)
    assert set(claims.values()) == {1}
    assert len(claims) == 2 * subscribers  # the offers' seats; the others are free
    assert mails == Counter({f"waitlist:{row.id}": 1 for row in offers})


async def test_parallel_completions_and_ratings_of_a_closed_day_lose_no_count(
    http: httpx.AsyncClient, engine: AsyncEngine, tokens: TokenFactory
) -> None:
    # Yesterday's visits were called but not completed when the day was closed for the
    # KPIs; clerks complete them all at once, then the citizens rate them all at once. Each
    # rewrites the day's rollup: none may work from a day without the others' changes.
    citizens = 10
    office_id, service_id = await setup_office(http, tokens, counters=citizens)
    tokens_by_id = await confirmed_bookings(http, office_id, service_id, citizens)
    yesterday = local_day(-1)
    start = at(yesterday, 9)
    async with engine.begin() as connection:
        await connection.execute(
            update(Booking)
            .where(Booking.office_id == uuid.UUID(office_id))
            .values(starts_at=start, ends_at=start + timedelta(minutes=20))
        )
        await connection.execute(
            insert(Visit),
            [
                {
                    "booking_id": uuid.UUID(booking_id),
                    "office_id": uuid.UUID(office_id),
                    "checked_in_at": start - timedelta(minutes=n),
                    "called_at": start + timedelta(minutes=n),
                    "counter": str(n),
                    "called_by": "admin-1",
                }
                for n, booking_id in enumerate(tokens_by_id)
            ],
        )
    closed = await close_days(async_sessionmaker(engine), now=datetime.now(UTC), tenant=TENANT)
    assert closed >= 1
    admin = tokens.headers(sub="admin-1", tenant=TENANT, roles=["admin"])
    period = {"from": yesterday.isoformat(), "to": yesterday.isoformat()}
    url = f"/booking/v1/tenants/{TENANT}/kpis"
    assert (await http.get(url, params=period, headers=admin)).json()["completed"] == 0

    completions = await race(
        http,
        [
            {
                "method": "POST",
                "url": f"/booking/v1/bookings/{booking_id}/complete",
                "json": {"resolved": True},
                "headers": admin,
            }
            for booking_id in tokens_by_id
        ],
    )
    ratings = await race(
        http,
        [
            {
                "method": "POST",
                "url": f"/booking/v1/bookings/{booking_id}/feedback",
                "json": {"rating": 1 + n % 5},
                "headers": {"X-Manage-Token": token},
            }
            for n, (booking_id, token) in enumerate(tokens_by_id.items())
        ],
    )

    assert statuses(completions) == {200: citizens}
    assert statuses(ratings) == {200: citizens}
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                select(KpiDay.office_id, KpiDay.completed, KpiDay.ratings).where(
                    KpiDay.day == yesterday, KpiDay.service_id == EVERY
                )
            )
        ).all()
    # The office's row and the row of every office of its time zone, from the rollup.
    assert sorted((office, done) for office, done, _ in rows) == sorted(
        [(uuid.UUID(office_id), citizens), (EVERY, citizens)]
    )
    assert all(sum(histogram.values()) == citizens for _, _, histogram in rows)
    for params in (period, {**period, "office_id": office_id}):
        kpis = (await http.get(url, params=params, headers=admin)).json()
        assert kpis["completed"] == citizens
        assert kpis["first_contact_resolution_rate"] == 1.0
        assert kpis["satisfaction"] == {"count": citizens, "mean": 3.0, "p50": 3.0, "p90": 5.0}
