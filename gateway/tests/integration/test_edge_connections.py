"""The connection edge over raw sockets: head limits (431), the head timeout (408), the cap on
connections per address (429), malformed requests (400), all problem+json; the same server
options for the services (``servicekit.server``)."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from servicekit.testing import LiveServer
from servicekit.testing.raw import Answer, closed, port_of, read_answer
from servicekit.testing.raw import connect as raw_connect

StartServer = Callable[..., LiveServer]


def _connect(
    server: LiveServer, timeout_s: float = 10.0
) -> contextlib.AbstractContextManager[socket.socket]:
    return raw_connect(server.url, timeout_s=timeout_s)


def _port(server: LiveServer) -> int:
    return port_of(server.url)


def _read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    answer = read_answer(sock)
    return answer.status, answer.headers, answer.body


def _closed(sock: socket.socket) -> bool:
    return closed(sock)


def _problem(status: int, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    document = Answer(status, headers, body).problem()
    assert headers["connection"] == "close"
    return document


def _get(path: str, *extra: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: gateway.test", *extra, "", ""]
    return "\r\n".join(lines).encode()


def _rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.fixture
def gateway(start_gateway: StartServer, alpha: LiveServer) -> LiveServer:
    return start_gateway(
        services={"alpha": [alpha.url]}, header_timeout_s=0.5, max_connections_per_client=4
    )


def _calls(alpha: LiveServer, key: str) -> int:
    calls: int = httpx.get(f"{alpha.url}/alpha/v1/count/{key}").json()["calls"]
    return calls


def test_a_64_kib_header_is_refused_431_and_never_reaches_the_service(
    gateway: LiveServer, alpha: LiveServer
) -> None:
    before = _calls(alpha, "big")
    request = (
        b"POST /alpha/v1/count/big HTTP/1.1\r\nHost: g\r\nContent-Length: 0\r\nX-Big: "
        + b"a" * (64 * 1024 + 1)
        + b"\r\n\r\n"
    )
    with _connect(gateway) as sock:
        sock.sendall(request)
        status, headers, body = _read_answer(sock)
        assert _closed(sock)

    assert status == 431
    assert _problem(status, headers, body)["type"] == "urn:rathaus:problem:header-fields-too-large"
    assert _calls(alpha, "big") == before


def test_too_many_header_fields_are_refused_431(gateway: LiveServer) -> None:
    fields = [f"X-Field-{index}: {index}" for index in range(101)]
    with _connect(gateway) as sock:
        sock.sendall(_get("/alpha/v1/echo", *fields))
        status, headers, body = _read_answer(sock)

    assert status == 431
    _problem(status, headers, body)


def test_a_head_just_under_the_limits_is_served(gateway: LiveServer) -> None:
    fields = [f"X-Field-{index}: {'v' * 200}" for index in range(90)]
    with _connect(gateway) as sock:
        sock.sendall(_get("/alpha/v1/echo", *fields))
        status, _, body = _read_answer(sock)

    assert status == 200
    assert json.loads(body)["headers"]["x-field-89"] == "v" * 200


def test_a_head_that_never_finishes_is_answered_408_within_the_timeout(
    gateway: LiveServer,
) -> None:
    with _connect(gateway) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /alpha/v1/echo HTTP/1.1\r\nHost: g\r\nX-Slow: ")
        # Slowloris: a byte now and then does not extend the deadline.
        with contextlib.suppress(OSError):
            for _ in range(3):
                time.sleep(0.1)
                sock.sendall(b"z")
        status, headers, body = _read_answer(sock)
        waited = time.monotonic() - started
        assert _closed(sock)

    assert status == 408
    _problem(status, headers, body)
    assert 0.4 < waited < 2.0


def test_a_connection_that_sends_nothing_is_closed_within_the_timeout(
    gateway: LiveServer,
) -> None:
    with _connect(gateway) as sock:
        started = time.monotonic()
        closed = _closed(sock)
        waited = time.monotonic() - started

    assert closed
    assert waited < 2.0


def test_a_keep_alive_connection_gets_the_timeout_for_each_head(gateway: LiveServer) -> None:
    with _connect(gateway) as sock:
        sock.sendall(_get("/alpha/v1/echo"))
        assert _read_answer(sock)[0] == 200
        sock.sendall(b"GET /alpha/v1/echo HTTP/1.1\r\nHost: g\r\n")
        status, headers, body = _read_answer(sock)

    assert status == 408
    _problem(status, headers, body)


def test_one_connection_more_than_the_cap_from_one_address_is_refused_429(
    start_gateway: StartServer, alpha: LiveServer
) -> None:
    gateway = start_gateway(services={"alpha": [alpha.url]}, max_connections_per_client=4)
    port = _port(gateway)
    held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(4)]
    try:
        for sock in held:  # each one served, so that the server has surely counted it
            sock.sendall(_get("/alpha/v1/echo"))
            assert _read_answer(sock)[0] == 200
        with _connect(gateway) as extra:
            status, headers, body = _read_answer(extra)
        # Another address is not affected by this one's connections.
        other = socket.create_connection(("127.0.0.1", port), 10, ("127.0.0.2", 0))
        with other:
            other.sendall(_get("/alpha/v1/echo"))
            other_status = _read_answer(other)[0]
        held.pop().close()
        time.sleep(0.2)
        with _connect(gateway) as again:
            again.sendall(_get("/alpha/v1/echo"))
            again_status = _read_answer(again)[0]
    finally:
        for sock in held:
            sock.close()

    assert status == 429
    document = _problem(status, headers, body)
    assert document["type"] == "urn:rathaus:problem:too-many-connections"
    assert headers["retry-after"] == "1"
    assert other_status == 200
    assert again_status == 200


def test_trusted_proxies_are_not_capped(start_gateway: StartServer, alpha: LiveServer) -> None:
    gateway = start_gateway(
        services={"alpha": [alpha.url]},
        max_connections_per_client=2,
        trusted_proxies=["127.0.0.0/8"],
    )
    port = _port(gateway)
    held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(4)]
    try:
        statuses = []
        for sock in held:
            sock.sendall(_get("/alpha/v1/echo"))
            statuses.append(_read_answer(sock)[0])
    finally:
        for sock in held:
            sock.close()

    assert statuses == [200] * 4


def test_a_malformed_request_is_answered_400_problem_json(gateway: LiveServer) -> None:
    with _connect(gateway) as sock:
        sock.sendall(b"GET /alpha/v1/echo HTTP/1.1\r\nHost g\r\nbroken line\r\n\r\n")
        status, headers, body = _read_answer(sock)

    assert status == 400
    assert _problem(status, headers, body)["type"] == "urn:rathaus:problem:bad-request"


def test_huge_heads_do_not_grow_the_gateway_memory(gateway: LiveServer) -> None:
    """The finding: four 64 MiB heads grew the gateway from 112 to 665 MiB."""
    piece = b"a" * (1024 * 1024)
    before = _rss_kib()
    for _ in range(4):
        with _connect(gateway) as sock:
            sock.sendall(b"GET /alpha/v1/echo HTTP/1.1\r\nHost: g\r\nX-Big: ")
            sent = 0
            with contextlib.suppress(OSError):
                while sent < 64 * 1024 * 1024:
                    sock.sendall(piece)
                    sent += len(piece)
            # The server stopped taking the head long before its end.
            assert sent < 64 * 1024 * 1024
    grown_mib = (_rss_kib() - before) / 1024

    assert grown_mib < 16


def test_a_service_has_the_same_limits(start_service: StartServer) -> None:
    service = start_service("gamma", header_timeout_s=0.5)
    with _connect(service) as sock:
        sock.sendall(_get("/gamma/v1/echo", "X-Big: " + "a" * (64 * 1024)))
        big = _read_answer(sock)
    with _connect(service) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        malformed = _read_answer(sock)
    with _connect(service) as sock:
        sock.sendall(b"GET /gamma/v1/echo HTTP/1.1\r\n")
        slow = _read_answer(sock)
    with _connect(service) as sock:
        sock.sendall(_get("/gamma/v1/echo"))
        fine = _read_answer(sock)

    assert [big[0], malformed[0], slow[0], fine[0]] == [431, 400, 408, 200]
    for status, headers, body in (big, malformed, slow):
        _problem(status, headers, body)
