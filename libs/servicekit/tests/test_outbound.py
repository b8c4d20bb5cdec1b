"""Calls to configured URLs (servicekit.outbound): only where the policy allows, pinned to the
address that was checked, never redirected; against a real listener on loopback."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Sequence

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from pydantic import SecretStr

from servicekit.events.subscribers import Subscriber
from servicekit.outbound.client import (
    AnswerTooLarge,
    OutboundRefused,
    outbound_client,
    read_bounded,
)
from servicekit.outbound.policy import DEVELOPMENT_POLICY, AddressRefused, OutboundPolicy
from servicekit.settings import Environment, ServiceSettings
from servicekit.testing.live import LiveServer, run_live_server

PRODUCTION = OutboundPolicy(https_only=True)
NO_PRIVATE = OutboundPolicy(https_only=False)
"""Production's address rules over http, so that a loopback listener can stand for a target."""


@pytest.fixture(scope="module")
def listener() -> Iterator[tuple[LiveServer, list[str]]]:
    """A server on 127.0.0.1 that records the Host header of every request it receives."""
    hits: list[str] = []
    app = FastAPI()

    @app.get("/hello")
    async def hello(request: Request) -> dict[str, str]:
        hits.append(request.headers["host"])
        return {"hello": "world"}

    @app.get("/elsewhere")
    async def elsewhere(request: Request) -> RedirectResponse:
        hits.append(request.headers["host"])
        return RedirectResponse("http://127.0.0.1:1/hello", status_code=302)

    @app.get("/much")
    async def much() -> dict[str, str]:
        return {"x": "x" * 100_000}

    server = run_live_server(app)
    yield server, hits
    server.stop()


@pytest.fixture
def hits(listener: tuple[LiveServer, list[str]]) -> list[str]:
    listener[1].clear()
    return listener[1]


def port_of(server: LiveServer) -> int:
    port = httpx.URL(server.url).port
    assert port is not None
    return port


class Resolver:
    """A DNS that answers each name from a script, one answer per question (then the last)."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers
        self.questions: list[str] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.questions.append(host)
        script = self.answers[host]
        return script.pop(0) if len(script) > 1 else script[0]


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("172.16.5.4", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("fd12:3456::1", "unique-local"),
        ("224.0.0.251", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "not public"),
        ("240.0.0.1", "reserved"),
    ],
)
def test_no_address_of_our_own_networks_is_called(address: str, kind: str) -> None:
    with pytest.raises(AddressRefused, match=f"is a {kind} address"):
        PRODUCTION.check_address("partner.example", ipaddress.ip_address(address))


def test_public_addresses_and_allowed_networks_are_called() -> None:
    PRODUCTION.check_address("partner.example", ipaddress.ip_address("193.99.144.80"))
    PRODUCTION.check_address("partner.example", ipaddress.ip_address("2a02:2e0:3fe:1001::1"))
    on_a_private_link = OutboundPolicy(
        https_only=True, allowed_networks=(ipaddress.ip_network("10.20.0.0/16"),)
    )
    on_a_private_link.check_address("partner.example", ipaddress.ip_address("10.20.1.1"))
    with pytest.raises(AddressRefused):
        on_a_private_link.check_address("partner.example", ipaddress.ip_address("10.21.1.1"))


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://partner.example", "only https"),
        ("ftp://partner.example", "scheme 'ftp'"),
        ("https://user:secret@partner.example", "credentials"),
        ("https://127.0.0.1:8443", "loopback"),
        ("https://localhost", "loopback"),
        ("https://[::1]/x", "loopback"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://G[/", "not well-formed"),
        ("https://\U001012d2a\x84.example", "not well-formed"),
    ],
)
def test_urls_are_refused_at_registration_where_that_can_be_told(url: str, why: str) -> None:
    with pytest.raises(AddressRefused, match=why):
        PRODUCTION.check_literal(url)


def test_a_name_is_checked_when_it_is_called_not_when_it_is_registered() -> None:
    PRODUCTION.check_literal("https://rathaus.nachbarstadt.example")


async def test_a_loopback_listener_is_not_reached_outside_development(
    listener: tuple[LiveServer, list[str]], hits: list[str]
) -> None:
    server, _ = listener
    async with outbound_client(NO_PRIVATE) as client:
        with pytest.raises(OutboundRefused, match=r"127\.0\.0\.1 is a loopback address"):
            await client.get(f"{server.url}/hello")
    assert hits == []

    async with outbound_client(DEVELOPMENT_POLICY) as client:
        answer = await client.get(f"{server.url}/hello")
    assert answer.json() == {"hello": "world"}
    assert hits == [f"127.0.0.1:{port_of(server)}"]


async def test_a_name_that_resolves_to_a_private_address_is_refused(
    listener: tuple[LiveServer, list[str]], hits: list[str]
) -> None:
    server, _ = listener
    resolver = Resolver(
        {
            "intern.example": [["10.0.0.7"]],
            # one public answer does not excuse a private one beside it
            "mixed.example": [["193.99.144.80", "127.0.0.1"]],
        }
    )
    async with outbound_client(NO_PRIVATE, resolve=resolver) as client:
        for name in ("intern.example", "mixed.example"):
            with pytest.raises(OutboundRefused, match="address, which is not called"):
                await client.get(f"http://{name}:{port_of(server)}/hello")
    assert hits == []


async def test_the_connection_goes_to_the_address_that_was_checked(
    listener: tuple[LiveServer, list[str]], hits: list[str]
) -> None:
    """DNS rebinding: the name would answer a private address the second time it is asked,
    but it is asked once per request, and the connection goes where the first answer said."""
    server, _ = listener
    resolver = Resolver({"partner.example": [["127.0.0.1"], ["10.0.0.7"]]})
    async with outbound_client(DEVELOPMENT_POLICY, resolve=resolver) as client:
        answer = await client.get(f"http://partner.example:{port_of(server)}/hello")
        with pytest.raises(OutboundRefused, match=r"10\.0\.0\.7"):
            await client.get(f"http://partner.example:{port_of(server)}/hello")

    assert answer.status_code == 200
    assert resolver.questions == ["partner.example", "partner.example"]
    # the listener saw the name, not the address it was reached at
    assert hits == [f"partner.example:{port_of(server)}"]


async def test_redirects_are_not_followed(
    listener: tuple[LiveServer, list[str]], hits: list[str]
) -> None:
    server, _ = listener
    async with outbound_client(DEVELOPMENT_POLICY) as client:
        answer = await client.get(f"{server.url}/elsewhere")
        with pytest.raises(httpx.HTTPError):
            await client.get(f"{server.url}/elsewhere", follow_redirects=True)
    assert answer.status_code == 302
    assert len(hits) == 2  # one each: the redirect's target (port 1) was never reached


async def test_an_answer_is_read_up_to_a_limit(listener: tuple[LiveServer, list[str]]) -> None:
    server, _ = listener
    async with outbound_client(DEVELOPMENT_POLICY) as client:
        async with client.stream("GET", f"{server.url}/hello") as response:
            assert await read_bounded(response, 1000) == b'{"hello":"world"}'
        async with client.stream("GET", f"{server.url}/much") as response:
            with pytest.raises(AnswerTooLarge):
                await read_bounded(response, 16 * 1024)


async def test_a_name_that_does_not_resolve_is_a_connect_error() -> None:
    async with outbound_client(NO_PRIVATE) as client:
        with pytest.raises(httpx.ConnectError, match="does not resolve"):
            await client.get("http://no-such-host.invalid/")


def test_the_policy_follows_the_environment() -> None:
    development = ServiceSettings(environment=Environment.DEVELOPMENT)
    assert development.outbound_policy() == DEVELOPMENT_POLICY
    production = ServiceSettings(
        environment=Environment.PRODUCTION,
        database_url="postgresql+asyncpg://db/x",
        outbound_allowed_networks=["10.20.0.0/16"],  # type: ignore[list-item]
    )
    assert production.outbound_policy() == OutboundPolicy(
        https_only=True, allowed_networks=(ipaddress.ip_network("10.20.0.0/16"),)
    )


def test_production_refuses_a_webhook_into_our_own_network() -> None:
    with pytest.raises(ValueError, match=r"events_subscribers: crm: .*loopback"):
        ServiceSettings(
            environment=Environment.PRODUCTION,
            database_url="postgresql+asyncpg://db/x",
            events_subscribers=[
                Subscriber(
                    name="crm", url="https://127.0.0.1:9000/hook", secret=SecretStr("s" * 32)
                )
            ],
        )


def test_the_deployments_own_services_are_named_hosts() -> None:
    """Inside compose or a cluster, identity's webhook goes to http://booking:8000, a private
    address: allowed by name, and only that name."""
    policy = OutboundPolicy(https_only=True, allowed_hosts=frozenset({"booking"}))
    policy.check_literal("http://booking:8000/booking/v1/events")
    policy.check_address("booking", ipaddress.ip_address("172.18.0.5"))
    with pytest.raises(AddressRefused, match="only https"):
        policy.check_literal("http://documents:8000/documents/v1/events")
    with pytest.raises(AddressRefused, match="private"):
        policy.check_address("documents", ipaddress.ip_address("172.18.0.6"))
