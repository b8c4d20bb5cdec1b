"""WebSocket pass-through: the client's socket is relayed to a replica of the service.

The upgrade has passed the edge checks (route, origin, token, rate limits: :mod:`gateway.edge`)
when :func:`relay` gets it; a refused one is answered with its problem+json and status
(:func:`refuse`). The relay asks the breaker, dials a replica, accepts the upstream's chosen
subprotocol towards the client, and frames flow both ways until either side closes, whose
close code and reason are passed on. An upstream that refuses the upgrade with an HTTP answer
(a service's 401, 404, 409 as problem+json) has that answer passed on as it is.

Where the server cannot answer an upgrade with HTTP (the ASGI ``websocket.http.response``
extension is missing), a refusal is a close with 1008 before the accept, which the client sees
as a 403.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.types import Message, Receive, Scope, Send
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from gateway.errors import send_problem
from gateway.settings import RouteClass
from gateway.tracing import request_id as make_request_id
from gateway.tracing import traceparent as make_traceparent
from gateway.upstreams import Upstream
from servicekit.problems import Problem

logger = logging.getLogger("gateway.websocket")

_FORWARD = frozenset(
    {b"authorization", b"x-manage-token", b"cookie", b"user-agent", b"accept-language", b"origin"}
)
_DENIAL_HEADERS = frozenset({"content-type", "retry-after", "www-authenticate", "content-language"})
_POLICY_VIOLATION = 1008
_UNAVAILABLE = 1013  # "try again later"


def upgrade_headers(scope: Scope) -> dict[bytes, bytes]:
    """The upgrade request's headers, the first of each name."""
    headers: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        headers.setdefault(name, value)
    return headers


def can_deny(scope: Scope) -> bool:
    """Whether the server can answer the upgrade with an HTTP response of ours."""
    return "websocket.http.response" in (scope.get("extensions") or {})


async def refuse(scope: Scope, send: Send, problem: Problem) -> None:
    logger.info("websocket refused", extra={"status": problem.status})
    if not can_deny(scope):
        await send({"type": "websocket.close", "code": _POLICY_VIOLATION})
        return
    request_id = make_request_id(upgrade_headers(scope).get(b"x-request-id"))
    await send_problem(
        _as_denial(send), problem, instance=scope["path"], request_id=request_id, headers=()
    )


def _as_denial(send: Send) -> Send:
    """An HTTP answer's messages as the WebSocket denial's (the same, renamed)."""

    async def denial(message: Message) -> None:
        await send({**message, "type": "websocket." + message["type"]})

    return denial


async def _pass_refusal(scope: Scope, send: Send, exc: InvalidStatus) -> None:
    response = exc.response
    if not can_deny(scope) or response.status_code < 400:
        await send({"type": "websocket.close", "code": _POLICY_VIOLATION})
        return
    body = bytes(response.body or b"")
    headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in response.headers.raw_items()
        if name.lower() in _DENIAL_HEADERS
    ]
    headers.append((b"content-length", str(len(body)).encode()))
    await send(
        {
            "type": "websocket.http.response.start",
            "status": response.status_code,
            "headers": headers,
        }
    )
    await send({"type": "websocket.http.response.body", "body": body})


async def relay(
    scope: Scope,
    receive: Receive,
    send: Send,
    upstream: Upstream,
    route: RouteClass,
    headers: dict[bytes, bytes],
    client_ip: str,
) -> None:
    loop = asyncio.get_running_loop()
    breaker = upstream.breaker
    if not breaker.allow(loop.time()):
        await send({"type": "websocket.close", "code": _UNAVAILABLE})
        return
    replica = upstream.choose(loop.time())
    target = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    query = scope.get("query_string", b"").decode("latin-1")
    url = f"ws://{replica.host}:{replica.port}{target}" + (f"?{query}" if query else "")
    outgoing = [
        (k.decode("latin-1"), v.decode("latin-1")) for k, v in headers.items() if k in _FORWARD
    ]
    outgoing.append(("x-request-id", make_request_id(headers.get(b"x-request-id")).decode()))
    outgoing.append(("traceparent", make_traceparent(headers.get(b"traceparent")).decode()))
    outgoing.append(("x-forwarded-for", client_ip))
    subprotocols = scope.get("subprotocols") or None
    try:
        upstream_ws = await connect(
            url,
            additional_headers=outgoing,
            subprotocols=subprotocols,
            open_timeout=route.timeout_s,
            proxy=None,
            compression=None,
            max_size=None,
        )
    except InvalidStatus as exc:
        breaker.succeeded()
        logger.info("upstream refused websocket", extra={"status": exc.response.status_code})
        await _pass_refusal(scope, send, exc)
        return
    except (OSError, TimeoutError, WebSocketException):
        breaker.failed(loop.time())
        replica.eject(loop.time())
        await send({"type": "websocket.close", "code": _UNAVAILABLE})
        return
    breaker.succeeded()
    await send({"type": "websocket.accept", "subprotocol": upstream_ws.subprotocol})
    async with upstream_ws:
        await _pump(upstream_ws, receive, send)


async def _pump(upstream_ws: ClientConnection, receive: Receive, send: Send) -> None:
    async def client_to_upstream() -> None:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                await upstream_ws.close(
                    code=message.get("code", 1000), reason=message.get("reason") or ""
                )
                return
            if message.get("text") is not None:
                await upstream_ws.send(message["text"])
            elif message.get("bytes") is not None:
                await upstream_ws.send(message["bytes"])

    async def upstream_to_client() -> None:
        try:
            async for data in upstream_ws:
                if isinstance(data, str):
                    await send({"type": "websocket.send", "text": data})
                else:
                    await send({"type": "websocket.send", "bytes": data})
            code, reason = upstream_ws.close_code or 1000, upstream_ws.close_reason or ""
        except ConnectionClosed as exc:
            code, reason = (exc.rcvd.code, exc.rcvd.reason) if exc.rcvd else (1011, "")
        with contextlib.suppress(Exception):
            await send({"type": "websocket.close", "code": code, "reason": reason})

    tasks = [
        asyncio.ensure_future(client_to_upstream()),
        asyncio.ensure_future(upstream_to_client()),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed, OSError):
                await task
