"""Bot protection of anonymous holds through a real server: a challenge solved as the ALTCHA
widget solves it buys one hold; a replayed, forged, expired or foreign solution is refused,
also when many race with one solution; holds per client address and per e-mail are capped."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from altcha import v1 as altcha
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from booking.bookings.models import Booking
from booking.botcheck.models import UsedChallenge
from booking.settings import BookingSettings
from servicekit.botcheck import Botcheck
from servicekit.db import create_engine, utcnow
from servicekit.testing import LiveServer
from servicekit.testing.live import run_live_server
from servicekit.testing.service import ServiceUnderTest
from servicekit.testing.tokens import TokenFactory

from ..factories import CONTACT, OPT_IN_TENANT, OTHER_TENANT, TENANT, at, hold, local_day
from ..factories import office_with_service as opt_in_office
from .test_concurrency import setup_office

HOLDS = f"/booking/v1/tenants/{TENANT}/holds"
PER_ADDRESS = 3


@dataclasses.dataclass
class Guarded:
    server: LiveServer
    settings: BookingSettings

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture
def guarded(
    service_under_test: ServiceUnderTest, fresh_database_url: str, tokens: TokenFactory
) -> Iterator[Guarded]:
    """Booking as production runs it: a proof of work on anonymous holds, few per address."""
    app = service_under_test.make_app(fresh_database_url)
    settings = app.state.settings.model_copy(
        update={"botcheck_required": True, "live_holds_per_address": PER_ADDRESS}
    )
    app.state.settings = settings
    app.state.botcheck = Botcheck(settings, UsedChallenge)
    app.state.booking_desk = dataclasses.replace(
        app.state.booking_desk, settings=settings, botcheck=app.state.botcheck
    )
    tokens.trust(app)
    server = run_live_server(app)
    yield Guarded(server, settings)
    server.stop()


@pytest.fixture
async def http(guarded: Guarded) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=guarded.url, timeout=120) as client:
        yield client


@pytest.fixture
async def engine(fresh_database_url: str) -> AsyncIterator[AsyncEngine]:
    database = create_engine(fresh_database_url, pool_size=2)
    yield database
    await database.dispose()


def solve(challenge: dict[str, Any]) -> str:
    """What the widget sends: base64 of the JSON with the number it found."""
    solution = altcha.solve_challenge(
        challenge["challenge"], challenge["salt"], challenge["algorithm"], challenge["maxnumber"]
    )
    assert solution is not None
    payload = {
        "algorithm": challenge["algorithm"],
        "challenge": challenge["challenge"],
        "number": solution.number,
        "salt": challenge["salt"],
        "signature": challenge["signature"],
    }
    return base64.b64encode(json.dumps(payload).encode()).decode()


async def solved(http: httpx.AsyncClient, tenant: str = TENANT) -> str:
    response = await http.get(f"/booking/v1/tenants/{tenant}/botcheck")
    assert response.status_code == 200, response.text
    assert response.json()["required"] is True
    return solve(response.json())


def hold_request(office_id: str, service_id: str, hour: int, solution: str | None) -> Any:
    return {
        "method": "POST",
        "url": HOLDS,
        "json": {
            "office_id": office_id,
            "service_ids": [service_id],
            "start": at(local_day(3), hour).isoformat(),
        },
        "headers": {"X-Altcha": solution} if solution else {},
    }


def assert_refused(response: httpx.Response, slug: str) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == f"urn:rathaus:problem:{slug}"


async def test_a_solved_challenge_buys_one_hold_and_a_replay_is_refused(
    http: httpx.AsyncClient, engine: AsyncEngine, tokens: TokenFactory
) -> None:
    office_id, service_id = await setup_office(http, tokens, counters=5)
    solution = await solved(http)

    first = await http.request(**hold_request(office_id, service_id, 9, solution))
    again = await http.request(**hold_request(office_id, service_id, 10, solution))

    assert first.status_code == 201, first.text
    assert_refused(again, "botcheck-replayed")
    async with engine.connect() as connection:
        assert await connection.scalar(select(func.count()).select_from(Booking)) == 1


async def test_one_solution_raced_by_many_requests_buys_one_hold(
    http: httpx.AsyncClient, engine: AsyncEngine, tokens: TokenFactory
) -> None:
    office_id, service_id = await setup_office(http, tokens, counters=20)
    solution = await solved(http)

    responses = await asyncio.gather(
        *(http.request(**hold_request(office_id, service_id, 9, solution)) for _ in range(10))
    )

    assert sorted(r.status_code for r in responses) == [201] + [403] * 9
    for response in responses:
        if response.status_code == 403:
            assert_refused(response, "botcheck-replayed")
    async with engine.connect() as connection:
        assert await connection.scalar(select(func.count()).select_from(Booking)) == 1


async def test_missing_forged_expired_and_foreign_solutions_are_refused(
    http: httpx.AsyncClient, guarded: Guarded, engine: AsyncEngine, tokens: TokenFactory
) -> None:
    office_id, service_id = await setup_office(http, tokens, counters=5)
    genuine = json.loads(base64.b64decode(await solved(http)))
    wrong_number = {**genuine, "number": genuine["number"] + 1}
    other_salt = {**genuine, "salt": genuine["salt"].replace("expires=", "expires=9")}
    expired_botcheck = Botcheck(
        guarded.settings,
        UsedChallenge,
        clock=lambda: utcnow() - timedelta(hours=1),
    )
    expired = solve(expired_botcheck.challenge(TENANT).model_dump())
    foreign = await solved(http, OTHER_TENANT)

    def encoded(payload: object) -> str:
        return base64.b64encode(json.dumps(payload).encode()).decode()

    for solution in (
        None,
        "not base64 at all!",
        encoded(["a", "list"]),
        encoded(wrong_number),
        encoded(other_salt),
        encoded({**genuine, "algorithm": "SHA-1"}),
        encoded({**genuine, "number": "12"}),
        expired,
        foreign,
    ):
        response = await http.request(**hold_request(office_id, service_id, 9, solution))
        assert_refused(response, "botcheck-failed")
    async with engine.connect() as connection:
        assert await connection.scalar(select(func.count()).select_from(Booking)) == 0
    # The genuine solution was never spent by those refusals.
    accepted = await http.request(**hold_request(office_id, service_id, 9, encoded(genuine)))
    assert accepted.status_code == 201, accepted.text


async def test_an_idempotent_repeat_replays_without_a_new_solution(
    http: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    office_id, service_id = await setup_office(http, tokens, counters=5)
    request = hold_request(office_id, service_id, 9, await solved(http))
    request["headers"]["Idempotency-Key"] = "retry-after-a-lost-answer-0001"

    first = await http.request(**request)
    repeat = await http.request(**request)

    assert (first.status_code, repeat.status_code) == (201, 201)
    assert repeat.headers["Idempotent-Replayed"] == "true"
    assert repeat.json()["manage_token"] == first.json()["manage_token"]


async def test_one_client_address_keeps_only_a_few_holds(
    http: httpx.AsyncClient, guarded: Guarded, tokens: TokenFactory
) -> None:
    office_id, service_id = await setup_office(http, tokens, counters=10)
    for _ in range(PER_ADDRESS):
        held = await http.request(**hold_request(office_id, service_id, 9, await solved(http)))
        assert held.status_code == 201, held.text

    refused = await http.request(**hold_request(office_id, service_id, 9, await solved(http)))
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    async with httpx.AsyncClient(base_url=guarded.url, transport=transport) as neighbour:
        elsewhere = await neighbour.request(
            **hold_request(office_id, service_id, 9, await solved(neighbour))
        )

    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "urn:rathaus:problem:hold-limit-reached"
    assert elsewhere.status_code == 201, elsewhere.text
    # A hold let go frees its place.
    let_go = await http.post(
        f"/booking/v1/bookings/{held.json()['id']}/cancel",
        headers={"X-Manage-Token": held.json()["manage_token"]},
    )
    assert let_go.status_code == 200
    again = await http.request(**hold_request(office_id, service_id, 9, await solved(http)))
    assert again.status_code == 201, again.text


async def test_one_email_address_awaits_only_a_few_opt_ins(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    office, service = await opt_in_office(session, tenant=OPT_IN_TENANT)
    limit = 3
    for hour in range(8, 8 + limit + 1):
        held = await hold(client, office, service, start=at(local_day(3), hour))
        assert held.status_code == 201, held.text
        confirmed = await client.post(
            f"/booking/v1/bookings/{held.json()['id']}/confirm",
            json=CONTACT,
            headers={"X-Manage-Token": held.json()["manage_token"]},
        )
        if hour < 8 + limit:
            assert confirmed.status_code == 200, confirmed.text
    assert confirmed.status_code == 409, confirmed.text
    assert confirmed.json()["type"] == "urn:rathaus:problem:hold-limit-reached"
    other = await client.post(
        f"/booking/v1/bookings/{held.json()['id']}/confirm",
        json={**CONTACT, "email": "max@example.org"},
        headers={"X-Manage-Token": held.json()["manage_token"]},
    )
    assert other.status_code == 200, other.text
