"""Faults: a service that is down, slow or breaks off never hangs a request or other routes."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx

from gateway.settings import Bucket, RouteClass
from servicekit.testing import LiveServer

StartGateway = Callable[..., LiveServer]
StartUpstream = Callable[[str], Any]

GENEROUS = Bucket(burst=100_000, per_s=100_000)


async def test_killed_upstream_gets_503_at_once_and_other_services_still_answer(
    start_gateway: StartGateway,
    upstream_process: StartUpstream,
    beta: LiveServer,
    http: httpx.AsyncClient,
) -> None:
    alpha = upstream_process("alpha")
    route = RouteClass(name="default", timeout_s=30, per_ip=GENEROUS)
    gateway = start_gateway(
        services={"alpha": [alpha.url], "beta": [beta.url]},
        route_classes=(route,),
        breaker_failures=3,
        breaker_open_s=60,
    )
    assert (await http.get(f"{gateway.url}/alpha/v1/echo")).status_code == 200

    alpha.kill()
    started = time.monotonic()
    answers = [await http.get(f"{gateway.url}/alpha/v1/echo") for _ in range(5)]
    elapsed = time.monotonic() - started
    other = await http.get(f"{gateway.url}/beta/v1/echo")

    assert [a.status_code for a in answers] == [503] * 5
    types = [a.json()["type"].rsplit(":", 1)[1] for a in answers]
    assert types == ["upstream-unavailable"] * 3 + ["upstream-circuit-open"] * 2
    assert all(a.headers["content-type"] == "application/problem+json" for a in answers)
    assert int(answers[-1].headers["retry-after"]) > 0
    # Far below the route's 30 s deadline: a refused connection is not waited on.
    assert elapsed < 10
    assert other.status_code == 200


async def test_open_breaker_lets_one_probe_through_and_closes_when_it_succeeds(
    start_gateway: StartGateway, upstream_process: StartUpstream, http: httpx.AsyncClient
) -> None:
    alpha = upstream_process("alpha")
    gateway = start_gateway(services={"alpha": [alpha.url]}, breaker_failures=1, breaker_open_s=0.5)
    alpha.kill()
    opened = await http.get(f"{gateway.url}/alpha/v1/echo")
    refused = await http.get(f"{gateway.url}/alpha/v1/echo")

    revived = type(alpha)("alpha", port=alpha.port)
    revived.start()
    try:
        await asyncio.sleep(0.6)
        probe = await http.get(f"{gateway.url}/alpha/v1/echo")
        after = await http.get(f"{gateway.url}/alpha/v1/echo")
    finally:
        revived.kill()

    assert opened.json()["type"].endswith(":upstream-unavailable")
    assert refused.json()["type"].endswith(":upstream-circuit-open")
    assert refused.headers["retry-after"] == "1"
    assert probe.status_code == 200
    assert after.status_code == 200


async def test_half_open_probe_that_fails_opens_the_breaker_again(
    start_gateway: StartGateway, upstream_process: StartUpstream, http: httpx.AsyncClient
) -> None:
    alpha = upstream_process("alpha")
    gateway = start_gateway(services={"alpha": [alpha.url]}, breaker_failures=1, breaker_open_s=0.3)
    alpha.kill()
    await http.get(f"{gateway.url}/alpha/v1/echo")
    await asyncio.sleep(0.4)

    probe = await http.get(f"{gateway.url}/alpha/v1/echo")
    next_one = await http.get(f"{gateway.url}/alpha/v1/echo")

    assert probe.json()["type"].endswith(":upstream-unavailable")
    assert next_one.json()["type"].endswith(":upstream-circuit-open")


async def test_slow_upstream_gets_504_at_the_route_deadline_while_others_answer(
    start_gateway: StartGateway, alpha: LiveServer, http: httpx.AsyncClient
) -> None:
    route = RouteClass(name="default", timeout_s=0.5, per_ip=GENEROUS)
    gateway = start_gateway(services={"alpha": [alpha.url]}, route_classes=(route,))

    slow_call = asyncio.ensure_future(http.get(f"{gateway.url}/alpha/v1/slow?seconds=5"))
    fast = await http.get(f"{gateway.url}/alpha/v1/echo")
    slow = await slow_call

    assert fast.status_code == 200
    # Only the route's deadline (0.5 s) answers 504; the service would have answered 200 late.
    assert slow.status_code == 504
    assert slow.json()["type"] == "urn:rathaus:problem:upstream-timeout"


async def _dropping_server(seen: Counter[str]) -> asyncio.Server:
    """An upstream that reads each request, counts it, and drops the connection unanswered."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        request_line = head.split(b"\r\n", 1)[0].decode()
        has_key = b"\r\nidempotency-key:" in head.lower()
        seen[request_line.split(" ", 1)[0] + (" with key" if has_key else "")] += 1
        writer.transport.abort()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def test_post_without_idempotency_key_is_sent_exactly_once(
    start_gateway: StartGateway, http: httpx.AsyncClient
) -> None:
    seen: Counter[str] = Counter()
    server = await _dropping_server(seen)
    port = server.sockets[0].getsockname()[1]
    route = RouteClass(name="default", retries=2, per_ip=GENEROUS)
    gateway = start_gateway(
        services={"alpha": [f"http://127.0.0.1:{port}"]},
        route_classes=(route,),
        breaker_failures=100,
    )
    try:
        post = await http.post(f"{gateway.url}/alpha/v1/count/x", content=b"{}")
        keyed = await http.post(
            f"{gateway.url}/alpha/v1/count/x", content=b"{}", headers={"Idempotency-Key": "k1"}
        )
        get = await http.get(f"{gateway.url}/alpha/v1/echo")
    finally:
        server.close()

    assert post.status_code == 502
    assert post.json()["type"] == "urn:rathaus:problem:upstream-broken"
    assert seen["POST"] == 1
    assert keyed.status_code == 502
    assert seen["POST with key"] == 3
    assert get.status_code == 502
    assert seen["GET"] == 3


async def test_readyz_is_503_while_a_route_class_has_no_ready_service(
    start_gateway: StartGateway, upstream_process: StartUpstream, http: httpx.AsyncClient
) -> None:
    alpha, spare, beta = (
        upstream_process("alpha"),
        upstream_process("alpha"),
        upstream_process("beta"),
    )
    routes = (
        RouteClass(name="alpha-writes", prefixes=("/alpha/v1/",), methods=frozenset({"POST"})),
        RouteClass(name="default", per_ip=GENEROUS),
    )
    gateway = start_gateway(
        services={"alpha": [alpha.url, spare.url], "beta": [beta.url]}, route_classes=routes
    )

    ready = await http.get(f"{gateway.url}/readyz")
    spare.kill()
    one_replica = await http.get(f"{gateway.url}/readyz")
    beta.kill()
    # beta's requests go through the catch-all, which alpha still serves: degraded, in rotation.
    degraded = await http.get(f"{gateway.url}/readyz")
    alpha.kill()
    down = await http.get(f"{gateway.url}/readyz")

    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ok",
        "checks": {"alpha": "ok", "beta": "ok"},
        "upstreams": {
            "alpha": {"status": "ok", "replicas": 2, "replicas_ready": 2, "circuit": "closed"},
            "beta": {"status": "ok", "replicas": 1, "replicas_ready": 1, "circuit": "closed"},
        },
        "route_classes": {"alpha-writes": "ok", "default": "ok"},
    }
    assert one_replica.status_code == 200
    assert one_replica.json()["upstreams"]["alpha"]["replicas_ready"] == 1
    assert degraded.status_code == 200
    assert degraded.json()["status"] == "degraded"
    assert degraded.json()["checks"] == {"alpha": "ok", "beta": "unavailable"}
    assert down.status_code == 503
    assert down.headers["content-type"] == "application/problem+json"
    assert down.json()["checks"] == {"alpha": "unavailable", "beta": "unavailable"}
    assert down.json()["route_classes"] == {"alpha-writes": "unavailable", "default": "unavailable"}


async def test_readyz_is_503_when_only_the_catch_all_is_served(
    start_gateway: StartGateway, upstream_process: StartUpstream, http: httpx.AsyncClient
) -> None:
    alpha, beta = upstream_process("alpha"), upstream_process("beta")
    routes = (
        RouteClass(name="alpha-writes", prefixes=("/alpha/v1/",), methods=frozenset({"POST"})),
        RouteClass(name="default", per_ip=GENEROUS),
    )
    gateway = start_gateway(
        services={"alpha": [alpha.url], "beta": [beta.url]}, route_classes=routes
    )

    alpha.kill()
    answer = await http.get(f"{gateway.url}/readyz")

    # beta still answers, but alpha's writes have nowhere to go: out of rotation.
    assert answer.status_code == 503
    assert answer.json()["type"] == "urn:rathaus:problem:service-unavailable"
    assert answer.json()["route_classes"] == {"alpha-writes": "unavailable", "default": "ok"}
    assert "alpha-writes" in answer.json()["detail"]


async def test_metrics_count_proxied_requests_failures_and_breaker_state(
    start_gateway: StartGateway, upstream_process: StartUpstream, http: httpx.AsyncClient
) -> None:
    alpha = upstream_process("alpha")
    gateway = start_gateway(services={"alpha": [alpha.url]}, breaker_failures=1)
    await http.get(f"{gateway.url}/alpha/v1/echo")
    alpha.kill()
    await http.get(f"{gateway.url}/alpha/v1/echo")

    text = (await http.get(f"{gateway.url}/metrics")).text

    assert 'gateway_requests_total{route="default",service="alpha",status="200"} 1.0' in text
    assert 'gateway_requests_total{route="default",service="alpha",status="503"} 1.0' in text
    assert 'gateway_upstream_failures_total{kind="ConnectFailed",service="alpha"}' in text
    assert 'gateway_circuit_state{service="alpha"} 2.0' in text


async def test_idempotent_request_broken_off_by_one_replica_succeeds_on_another(
    start_gateway: StartGateway, alpha: LiveServer, http: httpx.AsyncClient
) -> None:
    seen: Counter[str] = Counter()
    server = await _dropping_server(seen)
    port = server.sockets[0].getsockname()[1]
    gateway = start_gateway(
        services={"alpha": [f"http://127.0.0.1:{port}", alpha.url]}, breaker_failures=100
    )
    try:
        statuses = [(await http.get(f"{gateway.url}/alpha/v1/echo")).status_code for _ in range(4)]
    finally:
        server.close()

    assert statuses == [200] * 4
    assert seen["GET"] >= 1


async def test_upload_to_a_service_that_stops_reading_gets_504(
    start_gateway: StartGateway,
) -> None:
    release = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await release.wait()  # never reads the body
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    route = RouteClass(
        name="default", timeout_s=0.5, max_body_bytes=1 << 30, retries=0, per_ip=GENEROUS
    )
    gateway = start_gateway(
        services={"alpha": [f"http://127.0.0.1:{port}"]}, route_classes=(route,)
    )
    host, gateway_port = gateway.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(gateway_port))
    size = 256 * 1024 * 1024

    async def upload() -> None:
        writer.write(
            b"POST /alpha/v1/upload HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n" % size
        )
        block = b"x" * (1024 * 1024)
        for _ in range(size // len(block)):
            writer.write(block)
            await writer.drain()

    sending = asyncio.ensure_future(upload())
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 20)
    finally:
        sending.cancel()
        writer.close()
        release.set()
        server.close()

    assert head.startswith(b"HTTP/1.1 504")
