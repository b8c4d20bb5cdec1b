"""Routing, replicas, streaming both ways, tracing, edge headers, WebSocket pass-through."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import yaml
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from gateway.settings import RouteClass
from servicekit.testing import LiveServer
from servicekit.testing.live import free_port

CONTRACTS = Path(__file__).resolve().parents[3] / "contracts"
StartGateway = Callable[..., LiveServer]
StartUpstream = Callable[[str], Any]


async def test_request_reaches_its_service_with_path_query_and_method(
    start_gateway: StartGateway, alpha: LiveServer, beta: LiveServer, http: httpx.AsyncClient
) -> None:
    gateway = start_gateway(services={"alpha": [alpha.url], "beta": [beta.url]})

    to_alpha = await http.delete(f"{gateway.url}/alpha/v1/echo?x=1&y=%C3%A4")
    to_beta = await http.get(f"{gateway.url}/beta/v1/echo")

    assert to_alpha.status_code == 200
    assert to_alpha.json()["service"] == "alpha"
    assert to_alpha.json()["method"] == "DELETE"
    assert to_alpha.json()["query"] == "x=1&y=%C3%A4"
    assert to_beta.json()["service"] == "beta"


async def test_unknown_service_gets_404_problem(
    start_gateway: StartGateway, alpha: LiveServer, http: httpx.AsyncClient
) -> None:
    gateway = start_gateway(services={"alpha": [alpha.url]})

    response = await http.get(f"{gateway.url}/nowhere/v1/echo")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_round_robin_spreads_requests_over_replicas(
    start_gateway: StartGateway, upstream_process: StartUpstream, http: httpx.AsyncClient
) -> None:
    first, second = upstream_process("alpha"), upstream_process("alpha")
    gateway = start_gateway(services={"alpha": [first.url, second.url]})

    for _ in range(6):
        await http.post(f"{gateway.url}/alpha/v1/count/rr")

    on_first = (await http.get(f"{first.url}/alpha/v1/count/rr")).json()["calls"]
    on_second = (await http.get(f"{second.url}/alpha/v1/count/rr")).json()["calls"]
    assert (on_first, on_second) == (3, 3)


async def test_dead_replica_is_skipped_even_for_post(
    start_gateway: StartGateway, alpha: LiveServer, http: httpx.AsyncClient
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    gateway = start_gateway(services={"alpha": [dead, alpha.url]})

    statuses = [(await http.post(f"{gateway.url}/alpha/v1/echo")).status_code for _ in range(6)]

    assert statuses == [200] * 6


async def test_upload_is_streamed_to_the_service_intact(
    start_gateway: StartGateway, alpha: LiveServer, http: httpx.AsyncClient
) -> None:
    roomy = RouteClass(name="uploads", max_body_bytes=8 * 1024 * 1024)
    gateway = start_gateway(services={"alpha": [alpha.url]}, route_classes=(roomy,))
    payload = os.urandom(3 * 1024 * 1024)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(payload), 100_000):
            yield payload[start : start + 100_000]

    chunked = await http.post(f"{gateway.url}/alpha/v1/upload", content=chunks())
    sized = await http.post(f"{gateway.url}/alpha/v1/upload", content=payload)

    expected = {"size": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}
    assert chunked.json() == expected
    assert sized.json() == expected


async def test_download_is_streamed_back_intact(
    start_gateway: StartGateway, alpha: LiveServer, http: httpx.AsyncClient
) -> None:
    gateway = start_gateway(services={"alpha": [alpha.url]})
    size = 5 * 1024 * 1024 + 7

    async with http.stream("GET", f"{gateway.url}/alpha/v1/blob?size={size}") as response:
        digest = hashlib.sha256()
        async for chunk in response.aiter_raw():
            digest.update(chunk)
    direct = (await http.get(f"{alpha.url}/alpha/v1/blob?size={size}")).content

    assert response.headers["content-length"] == str(size)
    assert digest.hexdigest() == hashlib.sha256(direct).hexdigest()


async def test_request_id_and_trace_are_propagated_to_the_service_and_back(
    start_gateway: StartGateway, alpha: LiveServer, http: httpx.AsyncClient
) -> None:
    gateway = start_gateway(services={"alpha": [alpha.url]})
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    incoming = f"00-{trace}-00f067aa0ba902b7-01"

    response = await http.get(
        f"{gateway.url}/alpha/v1/echo",
        headers={"X-Request-ID": "req-123", "traceparent": incoming},
    )

    seen = response.json()["headers"]
    assert seen["x-request-id"] == "req-123"
    assert response.headers["x-request-id"] == "req-123"
    version, seen_trace, parent, flags = seen["traceparent"].split("-")
    assert (version, seen_trace, flags) == ("00", trace, "01")
    assert parent != "00f067aa0ba902b7"
    assert response.headers["traceparent"] == seen["traceparent"]
    assert seen["x-forwarded-for"] == "127.0.0.1"


async def test_request_id_and_trace_are_created_when_missing_or_malformed(
    start_gateway: StartGateway, alpha: LiveServer, http: httpx.AsyncClient
) -> None:
    gateway = start_gateway(services={"alpha": [alpha.url]})

    response = await http.get(
        f"{gateway.url}/alpha/v1/echo",
        headers={"X-Request-ID": "bad id with spaces", "traceparent": "00-zz-yy-01"},
    )

    seen = response.json()["headers"]
    assert seen["x-request-id"] != "bad id with spaces"
    assert seen["x-request-id"] == response.headers["x-request-id"]
    version, trace, parent, flags = seen["traceparent"].split("-")
    assert (version, len(trace), len(parent), flags) == ("00", 32, 16, "01")


async def test_security_headers_on_proxied_and_own_answers(
    start_gateway: StartGateway, alpha: LiveServer, http: httpx.AsyncClient
) -> None:
    gateway = start_gateway(services={"alpha": [alpha.url]})

    for url in (f"{gateway.url}/alpha/v1/echo", f"{gateway.url}/livez"):
        response = await http.get(url)
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"


async def test_cors_allows_listed_origins_only(
    start_gateway: StartGateway, alpha: LiveServer, http: httpx.AsyncClient
) -> None:
    gateway = start_gateway(
        services={"alpha": [alpha.url]}, cors_origins=("https://portal.example",)
    )
    preflight = {"Access-Control-Request-Method": "POST"}

    allowed = await http.options(
        f"{gateway.url}/alpha/v1/echo", headers={"Origin": "https://portal.example", **preflight}
    )
    refused = await http.options(
        f"{gateway.url}/alpha/v1/echo", headers={"Origin": "https://evil.example", **preflight}
    )
    simple = await http.get(
        f"{gateway.url}/alpha/v1/echo", headers={"Origin": "https://portal.example"}
    )
    foreign = await http.get(
        f"{gateway.url}/alpha/v1/echo", headers={"Origin": "https://evil.example"}
    )

    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == "https://portal.example"
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert refused.status_code == 403
    assert "access-control-allow-origin" not in refused.headers
    assert simple.headers["access-control-allow-origin"] == "https://portal.example"
    assert "x-request-id" in simple.headers["access-control-expose-headers"]
    assert "access-control-allow-origin" not in foreign.headers


async def test_a_browser_may_send_every_header_the_contracts_take(
    start_gateway: StartGateway, alpha: LiveServer, http: httpx.AsyncClient
) -> None:
    # A header missing here fails the browser's preflight: the manage link, the ALTCHA proof.
    contracts = [
        yaml.safe_load((CONTRACTS / service / "v1.yaml").read_text(encoding="utf-8"))
        for service in ("identity", "booking", "documents")
    ]
    taken = {
        parameter["name"].lower()
        for contract in contracts
        for item in contract["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict)
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "header"
    } | {
        # Headers a security scheme names (the manage link's apiKey).
        scheme["name"].lower()
        for contract in contracts
        for scheme in contract["components"].get("securitySchemes", {}).values()
        if scheme["type"] == "apiKey" and scheme["in"] == "header"
    }
    gateway = start_gateway(
        services={"alpha": [alpha.url]}, cors_origins=("https://portal.example",)
    )

    preflight = await http.options(
        f"{gateway.url}/alpha/v1/echo",
        headers={
            "Origin": "https://portal.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": ", ".join(sorted(taken)),
        },
    )

    assert {"x-manage-token", "x-altcha", "idempotency-key"} <= taken
    allowed = {
        name.strip() for name in preflight.headers["access-control-allow-headers"].split(",")
    }
    assert taken <= allowed


async def test_websocket_is_passed_through_both_ways(
    start_gateway: StartGateway, alpha: LiveServer
) -> None:
    gateway = start_gateway(services={"alpha": [alpha.url]})
    url = gateway.url.replace("http://", "ws://") + "/alpha/v1/ws"

    async with connect(url, subprotocols=["rathaus.v1"]) as socket:  # type: ignore[list-item]
        greeting = await socket.recv()
        await socket.send("ping")
        echoed = await socket.recv()
        await socket.send(b"\x00\x01")
        binary = await socket.recv()
        await socket.send("bye")
        try:
            await socket.recv()
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else None

    assert str(greeting).startswith("hello from alpha; id=")
    assert socket.subprotocol == "rathaus.v1"
    assert echoed == "echo:ping"
    assert binary == b"\x00\x01"
    assert code == 4000


async def test_body_over_the_route_limit_gets_413_declared_or_streamed(
    start_gateway: StartGateway, alpha: LiveServer, http: httpx.AsyncClient
) -> None:
    small = RouteClass(name="small", max_body_bytes=1000)
    gateway = start_gateway(services={"alpha": [alpha.url]}, route_classes=(small,))

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"x" * 400

    declared = await http.post(f"{gateway.url}/alpha/v1/upload", content=b"x" * 1001)
    streamed = await http.post(f"{gateway.url}/alpha/v1/upload", content=chunks())
    fits = await http.post(f"{gateway.url}/alpha/v1/upload", content=b"x" * 1000)

    assert declared.status_code == 413
    assert declared.headers["content-type"] == "application/problem+json"
    assert streamed.status_code == 413
    assert fits.json()["size"] == 1000


async def test_websocket_from_a_foreign_origin_is_refused(
    start_gateway: StartGateway, alpha: LiveServer
) -> None:
    gateway = start_gateway(
        services={"alpha": [alpha.url]}, cors_origins=("https://portal.example",)
    )
    url = gateway.url.replace("http://", "ws://") + "/alpha/v1/ws"

    async with connect(url, origin="https://portal.example") as socket:  # type: ignore[arg-type]
        allowed = await socket.recv()
    try:
        async with connect(url, origin="https://evil.example") as socket:  # type: ignore[arg-type]
            await socket.recv()
        refused = False
    except InvalidStatus as exc:
        refused = exc.response.status_code == 403

    assert str(allowed).startswith("hello from alpha")
    assert refused


async def test_both_content_length_and_chunked_never_reach_the_service_together(
    start_gateway: StartGateway, alpha: LiveServer
) -> None:
    gateway = start_gateway(services={"alpha": [alpha.url]})
    host, port = gateway.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"POST /alpha/v1/echo HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n"
        b"transfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    )
    await writer.drain()
    answer = await reader.read(65536)
    writer.close()

    assert answer.startswith(b"HTTP/1.1 ")
    if answer.startswith(b"HTTP/1.1 200"):
        body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
        assert "content-length" not in body["headers"] or "transfer-encoding" not in body["headers"]
        assert body["body_size"] == 3


async def test_dot_segments_in_the_path_are_refused(
    start_gateway: StartGateway, alpha: LiveServer
) -> None:
    gateway = start_gateway(services={"alpha": [alpha.url]})
    host, port = gateway.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"GET /alpha/v1/../../beta/v1/echo HTTP/1.1\r\nhost: x\r\n\r\n")
    await writer.drain()
    answer = await reader.read(65536)
    writer.close()

    assert answer.startswith(b"HTTP/1.1 400")


async def test_client_that_leaves_mid_download_frees_the_gateway(
    start_gateway: StartGateway, alpha: LiveServer, http: httpx.AsyncClient
) -> None:
    gateway = start_gateway(services={"alpha": [alpha.url]})

    async with http.stream("GET", f"{gateway.url}/alpha/v1/blob?size=500000000") as response:
        async for _ in response.aiter_raw():
            break
    after = await http.get(f"{gateway.url}/alpha/v1/echo")

    assert response.status_code == 200
    assert after.status_code == 200


async def test_open_ended_chunked_response_is_streamed_through(
    start_gateway: StartGateway, alpha: LiveServer, http: httpx.AsyncClient
) -> None:
    gateway = start_gateway(services={"alpha": [alpha.url]})

    response = await http.get(f"{gateway.url}/alpha/v1/stream?parts=2000")

    assert response.status_code == 200
    assert "content-length" not in response.headers or response.headers["content-length"]
    lines = response.text.splitlines()
    assert lines == [f"part {index}" for index in range(2000)]


async def test_head_request_gets_headers_without_a_body(
    start_gateway: StartGateway, alpha: LiveServer
) -> None:
    gateway = start_gateway(services={"alpha": [alpha.url]})
    host, port = gateway.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    for _ in range(2):  # the same client connection and a pooled upstream one, twice
        writer.write(b"HEAD /alpha/v1/blob?size=1000 HTTP/1.1\r\nhost: x\r\n\r\n")
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 ")
    writer.write(b"GET /alpha/v1/echo HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
    await writer.drain()
    rest = await reader.read()
    writer.close()

    assert rest.startswith(b"HTTP/1.1 200")


async def test_health_checks_eject_a_dead_replica_before_any_request_fails(
    start_gateway: StartGateway, alpha: LiveServer, http: httpx.AsyncClient
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    no_retries = RouteClass(name="default", retries=0)
    gateway = start_gateway(
        services={"alpha": [alpha.url, dead]},
        route_classes=(no_retries,),
        health_interval_s=0.05,
        replica_eject_s=30,
    )
    await asyncio.sleep(0.5)

    statuses = [(await http.post(f"{gateway.url}/alpha/v1/echo")).status_code for _ in range(6)]

    assert statuses == [200] * 6


async def test_websocket_to_a_service_that_is_down_is_refused_at_once(
    start_gateway: StartGateway,
) -> None:
    gateway = start_gateway(services={"alpha": [f"http://127.0.0.1:{free_port()}"]})
    url = gateway.url.replace("http://", "ws://") + "/alpha/v1/ws"

    try:
        async with connect(url, open_timeout=10) as socket:
            await socket.recv()
        refused = False
    except InvalidStatus:
        refused = True

    assert refused


async def test_gateway_own_documents_carry_cors_headers_for_listed_origins(
    start_gateway: StartGateway, alpha: LiveServer, http: httpx.AsyncClient
) -> None:
    gateway = start_gateway(
        services={"alpha": [alpha.url]}, cors_origins=("https://portal.example",)
    )

    response = await http.get(
        f"{gateway.url}/openapi.json", headers={"Origin": "https://portal.example"}
    )

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://portal.example"
