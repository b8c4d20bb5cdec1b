"""WebSocket pass-through: the client's socket is relayed to a replica of the service.

The upgrade is checked like any request (token, rate limit, breaker) before the upstream is
dialled; the upstream's chosen subprotocol is accepted towards the client, and frames flow
both ways until either side closes, whose close code is passed on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from starlette.types import Receive, Scope, Send
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from gateway.tracing import request_id as make_request_id
from gateway.tracing import traceparent as make_traceparent
from gateway.upstreams import Upstream
from servicekit.problems import Problem

if TYPE_CHECKING:
    from gateway.proxy import Proxy

logger = logging.getLogger("gateway.websocket")

_FORWARD = frozenset({b"authorization", b"cookie", b"user-agent", b"accept-language", b"origin"})
_UNAVAILABLE = 1013  # "try again later"


async def relay(
    proxy: Proxy, scope: Scope, receive: Receive, send: Send, upstream: Upstream
) -> None:
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    headers: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        headers.setdefault(name, value)
    route = proxy.route_of(scope["path"], "GET")
    origin = headers.get(b"origin")
    try:
        if route is None:
            raise Problem("no route class")
        if origin is not None and not (
            proxy.origin_allowed(origin) or _same_origin(origin, headers.get(b"host"))
        ):
            # A browser page from a foreign origin must not ride on the user's cookies.
            raise Problem("origin not allowed")
        subject = await proxy.authenticate(route, headers.get(b"authorization"))
        await proxy.check_limits(route, _client_ip(scope), subject)
    except Problem as problem:
        logger.info("websocket refused", extra={"status": problem.status})
        await send({"type": "websocket.close", "code": 1008})
        return
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
        await send({"type": "websocket.close", "code": 1008})
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


def _same_origin(origin: bytes, host: bytes | None) -> bool:
    return host is not None and origin.split(b"://", 1)[-1] == host


def _client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"
