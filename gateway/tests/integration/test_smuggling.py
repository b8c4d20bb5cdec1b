"""Request smuggling and desync over raw sockets, against a real gateway in front of a real
upstream that records every request reaching it.

Each payload hides a second request (``?smuggled``) behind framing that two parsers might read
differently. The gateway refuses each with 400 problem+json and closes; the upstream never sees
the hidden request, and for a refused head not even the outer one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from servicekit.testing import LiveServer
from servicekit.testing.raw import Answer, closed, connect, read_answers

StartGateway = Callable[..., LiveServer]

HIDDEN = b"GET /alpha/v1/echo?smuggled HTTP/1.1\r\nHost: g\r\n\r\n"
POST = b"POST /alpha/v1/echo HTTP/1.1\r\nHost: g\r\n"


def _post(*fields: bytes, body: bytes = b"") -> bytes:
    return POST + b"".join(field + b"\r\n" for field in fields) + b"\r\n" + body


REFUSED_HEADS = {
    "CL.TE": _post(
        b"Content-Length: %d" % (5 + len(HIDDEN)),
        b"Transfer-Encoding: chunked",
        body=b"0\r\n\r\n" + HIDDEN,
    ),
    "TE.CL": _post(
        b"Transfer-Encoding: chunked",
        b"Content-Length: 4",
        body=b"%x\r\n" % len(HIDDEN) + HIDDEN + b"\r\n0\r\n\r\n",
    ),
    "duplicate Content-Length": _post(
        b"Content-Length: 0", b"Content-Length: %d" % len(HIDDEN), body=HIDDEN
    ),
    "duplicate equal Content-Length": _post(
        b"Content-Length: %d" % len(HIDDEN), b"Content-Length: %d" % len(HIDDEN), body=HIDDEN
    ),
    "Content-Length list": _post(b"Content-Length: 0, %d" % len(HIDDEN), body=HIDDEN),
    "negative Content-Length": _post(b"Content-Length: -1", body=HIDDEN),
    "signed Content-Length": _post(b"Content-Length: +0", body=HIDDEN),
    "obs-fold Transfer-Encoding": _post(
        b"Content-Length: %d" % (5 + len(HIDDEN)),
        b"Transfer-Encoding:\r\n chunked",
        body=b"0\r\n\r\n" + HIDDEN,
    ),
    "obs-fold": b"GET /alpha/v1/echo HTTP/1.1\r\nHost: g\r\nX-Folded: a\r\n b\r\n\r\n" + HIDDEN,
    "Transfer-Encoding: chunked, identity": _post(
        b"Transfer-Encoding: chunked, identity", body=b"0\r\n\r\n" + HIDDEN
    ),
    "Transfer-Encoding: identity": _post(
        b"Transfer-Encoding: identity", b"Content-Length: 0", body=HIDDEN
    ),
    "Transfer-Encoding: xchunked": _post(
        b"Transfer-Encoding: xchunked", body=b"0\r\n\r\n" + HIDDEN
    ),
    "Transfer-Encoding twice": _post(
        b"Transfer-Encoding: chunked", b"Transfer-Encoding: identity", body=b"0\r\n\r\n" + HIDDEN
    ),
    "space before the colon": _post(
        b"Transfer-Encoding : chunked",
        b"Content-Length: %d" % (5 + len(HIDDEN)),
        body=b"0\r\n\r\n" + HIDDEN,
    ),
    "chunked in HTTP/1.0": b"POST /alpha/v1/echo HTTP/1.0\r\nHost: g\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + HIDDEN,
    "bare LF line ends": b"POST /alpha/v1/echo HTTP/1.1\nHost: g\nContent-Length: 0\n\n" + HIDDEN,
    "NUL in a field": b"GET /alpha/v1/echo HTTP/1.1\r\nHost: g\r\nX-A: a\x00b\r\n\r\n" + HIDDEN,
    "no Host": b"GET /alpha/v1/echo HTTP/1.1\r\n\r\n" + HIDDEN,
    "two Hosts": b"GET /alpha/v1/echo HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n" + HIDDEN,
    "absolute-form target": b"GET http://evil.example/alpha/v1/echo HTTP/1.1\r\nHost: g\r\n\r\n"
    + HIDDEN,
    "CONNECT": b"CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n" + HIDDEN,
    "asterisk-form GET": b"GET * HTTP/1.1\r\nHost: g\r\n\r\n" + HIDDEN,
    "two versions": b"GET /alpha/v1/echo HTTP/1.1 HTTP/1.1\r\nHost: g\r\n\r\n" + HIDDEN,
}

BROKEN_BODIES = {
    "chunk size not hex": _post(b"Transfer-Encoding: chunked", body=b"0x0\r\n\r\n" + HIDDEN),
    "chunk line ends with bare LF": _post(b"Transfer-Encoding: chunked", body=b"0\n\n" + HIDDEN),
}


@pytest.fixture
def gateway(start_gateway: StartGateway, counting_upstream: Any) -> LiveServer:
    return start_gateway(services={"alpha": [counting_upstream.url]})


def _send(gateway: LiveServer, payload: bytes) -> tuple[list[Answer], bool]:
    with connect(gateway.url) as sock:
        sock.sendall(payload)
        answers = read_answers(sock, quiet_s=2.0)
        sock.settimeout(2.0)
        return answers, closed(sock)


def _arrived(upstream: Any, before: int) -> list[tuple[str, str, int]]:
    time.sleep(0.2)  # whatever the gateway might still send on has arrived by now
    seen: list[tuple[str, str, int]] = upstream.seen[before:]
    return seen


@pytest.mark.parametrize("payload", REFUSED_HEADS.values(), ids=REFUSED_HEADS.keys())
def test_ambiguous_heads_are_refused_and_nothing_reaches_the_upstream(
    gateway: LiveServer, counting_upstream: Any, payload: bytes
) -> None:
    before = len(counting_upstream.seen)

    answers, was_closed = _send(gateway, payload)

    assert [a.status for a in answers] == [400]
    assert answers[0].problem()["type"] == "urn:rathaus:problem:bad-request"
    assert was_closed
    assert _arrived(counting_upstream, before) == []


@pytest.mark.parametrize("payload", BROKEN_BODIES.values(), ids=BROKEN_BODIES.keys())
def test_a_broken_chunked_body_ends_the_request_and_hides_nothing(
    gateway: LiveServer, counting_upstream: Any, payload: bytes
) -> None:
    before = len(counting_upstream.seen)

    answers, was_closed = _send(gateway, payload)

    assert [a.status for a in answers] == [400]
    answers[0].problem()
    assert was_closed
    # The outer request may have begun upstream (bodies stream); it is cut off, nothing follows.
    arrived = _arrived(counting_upstream, before)
    assert [(method, path) for method, path, _ in arrived] in ([], [("POST", "/alpha/v1/echo?")])


def test_pipelined_requests_are_answered_in_order_each_forwarded_once(
    gateway: LiveServer, counting_upstream: Any
) -> None:
    before = len(counting_upstream.seen)
    payload = b"".join(
        b"GET /alpha/v1/echo?n=%d HTTP/1.1\r\nHost: g\r\nX-Request-ID: req-%d\r\n\r\n" % (n, n)
        for n in range(3)
    )

    answers, _ = _send(gateway, payload)

    assert [a.status for a in answers] == [200, 200, 200]
    assert [json.loads(a.body)["query"] for a in answers] == ["n=0", "n=1", "n=2"]
    assert [a.headers["x-request-id"] for a in answers] == ["req-0", "req-1", "req-2"]
    assert [path for _, path, _ in _arrived(counting_upstream, before)] == [
        "/alpha/v1/echo?n=0",
        "/alpha/v1/echo?n=1",
        "/alpha/v1/echo?n=2",
    ]


def test_a_body_that_looks_like_a_request_stays_a_body(
    gateway: LiveServer, counting_upstream: Any
) -> None:
    before = len(counting_upstream.seen)

    answers, _ = _send(gateway, _post(b"Content-Length: %d" % len(HIDDEN), body=HIDDEN))

    assert [a.status for a in answers] == [200]
    assert json.loads(answers[0].body)["body_size"] == len(HIDDEN)
    assert _arrived(counting_upstream, before) == [("POST", "/alpha/v1/echo?", len(HIDDEN))]


def test_a_chunked_body_reaches_the_upstream_with_one_framing(
    gateway: LiveServer, counting_upstream: Any
) -> None:
    before = len(counting_upstream.seen)
    body = b"%x\r\n" % len(HIDDEN) + HIDDEN + b"\r\n0\r\n\r\n"

    answers, _ = _send(gateway, _post(b"Transfer-Encoding: chunked", body=body))

    assert [a.status for a in answers] == [200]
    seen = json.loads(answers[0].body)["headers"]
    assert not ("content-length" in seen and "transfer-encoding" in seen)
    assert _arrived(counting_upstream, before) == [("POST", "/alpha/v1/echo?", len(HIDDEN))]


def test_an_h2c_upgrade_goes_on_as_a_plain_request(
    gateway: LiveServer, counting_upstream: Any
) -> None:
    before = len(counting_upstream.seen)
    payload = (
        b"GET /alpha/v1/echo HTTP/1.1\r\nHost: g\r\nConnection: Upgrade, HTTP2-Settings\r\n"
        b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"
    )

    answers, _ = _send(gateway, payload)

    assert [a.status for a in answers] == [200]
    seen = json.loads(answers[0].body)["headers"]
    assert "upgrade" not in seen
    assert len(_arrived(counting_upstream, before)) == 1


def test_expect_100_continue_forwards_one_request(
    gateway: LiveServer, counting_upstream: Any
) -> None:
    before = len(counting_upstream.seen)
    payload = _post(b"Expect: 100-continue", b"Content-Length: %d" % len(HIDDEN), body=HIDDEN)

    answers, _ = _send(gateway, payload)

    assert [a.status for a in answers][-1] == 200
    assert _arrived(counting_upstream, before) == [("POST", "/alpha/v1/echo?", len(HIDDEN))]
