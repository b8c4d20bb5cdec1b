"""WebSocket pass-through: the client's socket is relayed to a replica of the service.

The upgrade has passed the edge checks (route, origin, token, rate limits: :mod:`gateway.edge`)
when :func:`relay` gets it; a refused one is closed with 1008 (:func:`refuse`). The relay asks
the breaker, dials a replica, accepts the upstream's chosen subprotocol towards the client, and
frames flow both ways until either side closes, whose close code is passed on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.types import Receive, Scope, Send
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from gateway.settings import RouteClass
from gateway.tracing import request_id as make_request_id
from gateway.tracing import traceparent as make_traceparent
from gateway.upstreams import Upstream
from servicekit.problems import Problem

logger = logging.getLogger("gateway.websocket")

_FORWARD = frozenset({b"authorization", b"cookie", b"user-agent", b"accept-language", b"origin"})
_POLICY_VIOLATION = 1008
_UNAVAILABLE = 1013  # "try again later"


def upgrade_headers(scope: Scope) -> dict[bytes, bytes]:
    """The upgrade request's headers, the first of each name."""
    headers: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        headers.setdefault(name, value)
    return headers


async def refuse(send: Send, problem: Problem) -> None:
    logger.info("websocket refused", extra={"status": problem.status})
    await send({"type": "websocket.close", "code": _POLICY_VIOLATION})


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
        await send({"type": "websocket.close", "code": _POLICY_VIOLATION})
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
                await upstream_ws.close(code=message.get("code", 1000))
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
            code = upstream_ws.close_code or 1000
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd else 1011
        with contextlib.suppress(Exception):
            await send({"type": "websocket.close", "code": code})

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
