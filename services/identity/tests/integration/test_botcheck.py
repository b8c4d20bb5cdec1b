"""Self-registration behind a proof of work, through a real server: a challenge solved as the
ALTCHA widget solves it registers one account; the same solution again, or a forged one, is
refused and registers nobody."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from altcha import v1 as altcha
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from identity.accounts.models import Account
from identity.botcheck.models import UsedChallenge
from servicekit.botcheck import Botcheck
from servicekit.db import create_engine
from servicekit.testing import LiveServer
from servicekit.testing.live import run_live_server
from servicekit.testing.service import ServiceUnderTest

from ..factories import DEFAULT_PASSWORD, create_tenant

AGS = "06999001"
CITIZENS = f"/identity/v1/tenants/{AGS}/citizens"


@dataclasses.dataclass
class Guarded:
    server: LiveServer
    database_url: str


@pytest.fixture
def guarded(service_under_test: ServiceUnderTest, fresh_database_url: str) -> Iterator[Guarded]:
    app = service_under_test.make_app(fresh_database_url)
    settings = app.state.settings.model_copy(update={"botcheck_required": True})
    app.state.botcheck = Botcheck(settings, UsedChallenge)
    server = run_live_server(app)
    yield Guarded(server, fresh_database_url)
    server.stop()


@pytest.fixture
async def http(guarded: Guarded) -> AsyncIterator[httpx.AsyncClient]:
    engine = create_engine(guarded.database_url, pool_size=1)
    async with AsyncSession(engine) as session:
        await create_tenant(session, AGS)
        await session.commit()
    await engine.dispose()
    async with httpx.AsyncClient(base_url=guarded.server.url, timeout=60) as client:
        yield client


async def accounts(guarded: Guarded) -> int:
    engine = create_engine(guarded.database_url, pool_size=1)
    async with engine.connect() as connection:
        count = await connection.scalar(select(func.count()).select_from(Account))
    await engine.dispose()
    return int(count or 0)


def widget_payload(challenge: dict[str, Any], **changes: Any) -> str:
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
        **changes,
    }
    return base64.b64encode(json.dumps(payload).encode()).decode()


async def test_registration_takes_a_fresh_solution_each_time(
    http: httpx.AsyncClient, guarded: Guarded
) -> None:
    challenge = (await http.get(f"/identity/v1/tenants/{AGS}/botcheck")).json()
    assert challenge["required"] is True
    solution = widget_payload(challenge)

    first = await http.post(
        CITIZENS,
        json={"email": "erika@example.org", "password": DEFAULT_PASSWORD},
        headers={"X-Altcha": solution},
    )
    replayed = await http.post(
        CITIZENS,
        json={"email": "max@example.org", "password": DEFAULT_PASSWORD},
        headers={"X-Altcha": solution},
    )

    assert first.status_code == 201, first.text
    assert replayed.status_code == 403
    assert replayed.headers["content-type"] == "application/problem+json"
    assert replayed.json()["type"] == "urn:rathaus:problem:botcheck-replayed"
    assert await accounts(guarded) == 1


async def test_registration_without_or_with_a_forged_solution_is_refused(
    http: httpx.AsyncClient, guarded: Guarded
) -> None:
    challenge = (await http.get(f"/identity/v1/tenants/{AGS}/botcheck")).json()
    body = {"email": "max@example.org", "password": DEFAULT_PASSWORD}

    missing = await http.post(CITIZENS, json=body)
    forged = await http.post(
        CITIZENS, json=body, headers={"X-Altcha": widget_payload(challenge, signature="0" * 64)}
    )

    for response in (missing, forged):
        assert response.status_code == 403, response.text
        assert response.json()["type"] == "urn:rathaus:problem:botcheck-failed"
    assert await accounts(guarded) == 0
