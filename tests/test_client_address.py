"""The client's address from the edge to identity's login lockout, on real servers.

The gateway passes on the address it determined (``X-Forwarded-For``, believed by identity only
from the gateway: its ``trusted_proxies``). So failed logins of one client lock out that client's
address, not every user behind the gateway; and a forged ``X-Forwarded-For`` from any other peer
changes nothing. The test clients are told apart by their loopback source address.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from gateway.main import create_gateway
from gateway.settings import Bucket, GatewaySettings, RouteClass
from identity.main import create_app as create_identity
from identity.seed import seed_demo as seed_identity
from identity.settings import IdentitySettings
from servicekit.server import uvicorn_options
from servicekit.settings import Environment
from servicekit.testing.live import LiveServer, run_live_server
from servicekit.testing.plugin import DatabaseRegistry
from tests.documents_booking.live_booking import fresh_database

TENANT = "06999001"
CITIZEN = {
    "tenant": TENANT,
    "email": "erika.mustermann@example.org",
    "password": "demo-citizen-2026",
}
WRONG = {"tenant": TENANT, "email": "nobody@example.org", "password": "wrong-password-1"}
IP_THRESHOLD = 50
GENEROUS = RouteClass(name="default", per_ip=Bucket(burst=100_000, per_s=100_000))


@dataclass
class Edge:
    gateway: str
    identity: str


async def _seeded(app: FastAPI) -> FastAPI:
    await seed_identity(app)
    await app.state.database.engine.dispose()
    return app


@pytest.fixture
async def edge(
    database_registry: DatabaseRegistry, db_backend: str, capsys: pytest.CaptureFixture[str]
) -> AsyncIterator[Edge]:
    settings = IdentitySettings.model_validate(
        {
            "environment": Environment.TEST,
            "database_url": fresh_database(database_registry, db_backend, "identity"),
            "lockout_ip_threshold": IP_THRESHOLD,
            # The gateway reaches identity from 127.0.0.1; the test clients use other addresses.
            "trusted_proxies": ["127.0.0.1/32"],
        }
    )
    servers: list[LiveServer] = []
    try:
        identity = await _seeded(create_identity(settings))
        servers.append(run_live_server(identity, **uvicorn_options(settings)))
        gateway_settings = GatewaySettings.model_validate(
            {
                "environment": Environment.TEST,
                "services": {"identity": [servers[0].url]},
                "route_classes": [GENEROUS],
                "health_interval_s": 0,
                "access_log": False,
            }
        )
        gateway = create_gateway(gateway_settings)
        options = {**uvicorn_options(gateway_settings), "proxy_headers": False}
        servers.append(run_live_server(gateway, loop="uvloop", **options))
        capsys.readouterr()  # the seed prints demo credentials
        yield Edge(gateway=servers[1].url, identity=servers[0].url)
    finally:
        for server in reversed(servers):
            server.stop()


def _client(base_url: str, source: str) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=source)
    return httpx.AsyncClient(base_url=base_url, transport=transport, timeout=30)


async def _fail_logins(client: httpx.AsyncClient, headers: dict[str, str] | None = None) -> None:
    for index in range(IP_THRESHOLD):
        forged = {"X-Forwarded-For": f"198.51.100.{index}"} if headers is None else headers
        response = await client.post("/identity/v1/auth/login", json=WRONG, headers=forged)
        assert response.status_code == 401, response.text


async def test_failed_logins_of_one_client_do_not_lock_out_another(edge: Edge) -> None:
    async with (
        _client(edge.gateway, "127.0.0.2") as attacker,
        _client(edge.gateway, "127.0.0.3") as citizen,
    ):
        # Each with a forged X-Forwarded-For: the gateway believes none of them.
        await _fail_logins(attacker)

        attacker_login = await attacker.post("/identity/v1/auth/login", json=CITIZEN)
        citizen_login = await citizen.post("/identity/v1/auth/login", json=CITIZEN)

    # The attacker's address is locked (the right password does not help it) ...
    assert attacker_login.status_code == 401
    # ... and the citizen elsewhere logs in.
    assert citizen_login.status_code == 200, citizen_login.text


async def test_a_forged_forwarded_for_from_an_untrusted_peer_is_ignored(edge: Edge) -> None:
    async with (
        _client(edge.identity, "127.0.0.4") as direct,
        _client(edge.gateway, "127.0.0.5") as citizen,
    ):
        # Straight at identity, naming the citizen's address: identity does not believe it.
        await _fail_logins(direct, {"X-Forwarded-For": "127.0.0.5"})

        direct_login = await direct.post("/identity/v1/auth/login", json=CITIZEN)
        citizen_login = await citizen.post("/identity/v1/auth/login", json=CITIZEN)

    assert direct_login.status_code == 401
    assert citizen_login.status_code == 200, citizen_login.text
