"""Serving an app under uvicorn, with the limits an open network needs at the connection.

uvicorn's httptools protocol reads a request head of any size, keeps a connection whose head
never finishes open for ever, and answers a malformed request with ``text/plain``.
:class:`HardenedHttpToolsProtocol` keeps its parsing and adds, per connection:

- a request head above ``max_header_bytes`` or with more than ``max_header_fields`` fields:
  431 (memory stays bounded by the limit plus one read);
- a head that has not arrived whole ``header_timeout_s`` after it began (or after the
  connection opened): 408, or the connection closed when nothing arrived at all;
- more than ``max_connections_per_client`` open connections of one peer address: 429 (peers in
  ``trusted_proxies`` are exempt: many clients share their address);
- malformed requests, ambiguous framing (any Transfer-Encoding but one ``chunked``, none in
  HTTP/1.0, not exactly one Host) and targets that are not a path (absolute-form, CONNECT):
  400, and the process's ``max_concurrency`` exceeded: 503;

each as problem+json with ``Connection: close``. :func:`uvicorn_options` turns the settings into
uvicorn's options (also ``X-Forwarded-For`` believed only from ``trusted_proxies``); every
service's ``serve`` and the gateway's command use them.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import ipaddress
import json
import logging
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, cast

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState

from servicekit.logs import configure_logging, uvicorn_log_config
from servicekit.problems import PROBLEM_MEDIA_TYPE, problem_type
from servicekit.settings import ServiceSettings

logger = logging.getLogger("servicekit.server")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# After a refusal the client may still be sending (a huge head): its bytes are read and dropped
# for this long (up to this many), so that closing does not reset the connection before the
# client has read the answer.
_LINGER_S = 1.0
_LINGER_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    max_header_bytes: int
    max_header_fields: int
    header_timeout_s: float
    max_connections_per_client: int | None
    exempt: tuple[Network, ...] = ()
    """Peers whose connections are not capped (trusted proxies)."""

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> ConnectionLimits:
        return cls(
            max_header_bytes=settings.max_header_bytes,
            max_header_fields=settings.max_header_fields,
            header_timeout_s=settings.header_timeout_s,
            max_connections_per_client=settings.max_connections_per_client,
            exempt=tuple(settings.trusted_proxies),
        )

    def capped(self, host: str) -> bool:
        if self.max_connections_per_client is None:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return True
        return not any(address in network for network in self.exempt)


def problem_response(
    status: int,
    slug: str,
    detail: str,
    *,
    headers: Iterable[tuple[bytes, bytes]] = (),
) -> bytes:
    """A whole HTTP/1.1 answer with a problem+json body that closes the connection."""
    phrase = HTTPStatus(status).phrase
    document = {"type": problem_type(slug), "title": phrase, "status": status, "detail": detail}
    body = json.dumps(document).encode()
    lines = [
        b"HTTP/1.1 %d %s\r\n" % (status, phrase.encode()),
        b"content-type: " + PROBLEM_MEDIA_TYPE.encode() + b"\r\n",
        b"content-length: %d\r\n" % len(body),
        b"cache-control: no-store\r\n",
        b"x-content-type-options: nosniff\r\n",
        b"connection: close\r\n",
        *[name + b": " + value + b"\r\n" for name, value in headers],
        b"\r\n",
        body,
    ]
    return b"".join(lines)


# Open connections per peer address, per server (several servers may share a process).
_OPEN: weakref.WeakKeyDictionary[ServerState, collections.Counter[str]] = (
    weakref.WeakKeyDictionary()
)


class HardenedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with head limits, a head timeout and a per-address cap."""

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: ConnectionLimits,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits
        self._open = _OPEN.setdefault(server_state, collections.Counter())
        self._counted: str | None = None
        self._in_head = True
        self._head_received = 0
        """Bytes received since the current head began (a bound on its size)."""
        self._head_size = 0
        self._head_fields = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._refused = False
        self._dropped = 0

    # the connection ------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        host = self.client[0] if self.client else None
        cap = self.limits.max_connections_per_client
        if cap is not None and host is not None and self.limits.capped(host):
            self._open[host] += 1
            self._counted = host
            if self._open[host] > cap:
                logger.warning("connection refused: too many from one address")
                self._refuse(
                    429,
                    "too-many-connections",
                    f"At most {cap} connections from one address are served at a time.",
                    headers=[(b"retry-after", b"1")],
                )
                return
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        self._release()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            # Read and dropped until the connection closes; a client that keeps on sending
            # is cut off.
            self._dropped += len(data)
            if self._dropped > _LINGER_BYTES:
                self.transport.close()
            return
        if self._in_head:
            self._head_received += len(data)
        super().data_received(data)
        if (
            not self._refused
            and self._in_head
            and self._head_received > self.limits.max_header_bytes
        ):
            self._refuse_large_head()

    def handle_websocket_upgrade(self) -> None:
        super().handle_websocket_upgrade()
        host, self._counted = self._counted, None
        if host is None:
            return
        # The connection now belongs to the WebSocket protocol: it releases the count.
        protocol = self.transport.get_protocol()
        lost = protocol.connection_lost

        def connection_lost(exc: Exception | None) -> None:
            self._release(host)
            lost(exc)

        protocol.connection_lost = connection_lost  # type: ignore[method-assign]

    def send_400_response(self, msg: str) -> None:
        if not self._refused:
            self._refuse(400, "bad-request", "The request is not valid HTTP/1.1.")

    # parser callbacks ----------------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_size = self._head_fields = 0
        if self._head_timer is None:
            self._arm_head_timer()

    def on_url(self, url: bytes) -> None:
        self._head_size += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4
        self._head_fields += 1
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_received = 0
        self._cancel_head_timer()
        if self._refused:
            return
        if (
            self._head_size > self.limits.max_header_bytes
            or self._head_fields > self.limits.max_header_fields
        ):
            self._refuse_large_head()
            return
        framing = self._framing_problem()
        if framing is not None:
            self._refuse(400, "bad-request", framing)
            return
        if not (self.url.startswith(b"/") or (self.url == b"*" and self._options())):
            # Absolute- and authority-form (and CONNECT): this is no forward proxy.
            self._refuse(400, "bad-request", "The request target must be a path.")
            return
        limit = self.limit_concurrency
        if limit is not None and (len(self.connections) >= limit or len(self.tasks) >= limit):
            logger.warning("request refused: concurrency limit reached")
            self._refuse(
                503,
                "service-unavailable",
                "The server is at its limit of concurrent requests; try again.",
                headers=[(b"retry-after", b"1")],
            )
            return
        super().on_headers_complete()

    def _framing_problem(self) -> str | None:
        """What makes the head ambiguous for whoever reads it after us (a desync), if anything.

        The parser refuses most of it already (both Content-Length and Transfer-Encoding,
        differing lengths, obs-fold, a coding after chunked); this refuses the rest."""
        codings = [value for name, value in self.headers if name == b"transfer-encoding"]
        hosts = sum(1 for name, _ in self.headers if name == b"host")
        version = self.parser.get_http_version()
        if codings and (
            len(codings) > 1 or codings[0].strip().lower() != b"chunked" or version == "1.0"
        ):
            return "Transfer-Encoding may only be 'chunked', once, and not in HTTP/1.0."
        if version == "1.1" and hosts != 1:
            return "An HTTP/1.1 request has exactly one Host field."
        return None

    def _options(self) -> bool:
        return bool(self.parser.get_method() == b"OPTIONS")

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._refused:
            super().on_message_complete()
        # What follows (a pipelined or the next request) counts towards the next head.
        self._in_head = True

    # internals -----------------------------------------------------------------------------
    def _refuse_large_head(self) -> None:
        self._refuse(
            431,
            "header-fields-too-large",
            f"The request head may have at most {self.limits.max_header_bytes} bytes and "
            f"{self.limits.max_header_fields} fields.",
        )

    def _refuse(
        self,
        status: int,
        slug: str,
        detail: str,
        *,
        headers: Iterable[tuple[bytes, bytes]] = (),
    ) -> None:
        """Answer ``status`` and close; what the client still sends is dropped meanwhile."""
        self._refused = True
        self._cancel_head_timer()
        transport = self.transport
        if transport.is_closing():
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            # A request in flight (its body broke off): the app is told the client has gone,
            # and its answer, if begun, is cut off rather than mixed with this one.
            cycle.disconnected = True
            cycle.message_event.set()
            if cycle.response_started:
                transport.close()
                return
        defaults = [(k, v) for k, v in self.server_state.default_headers if k != b"server"]
        transport.write(problem_response(status, slug, detail, headers=[*defaults, *headers]))
        if transport.can_write_eof():
            transport.write_eof()
            transport.resume_reading()
            self.loop.call_later(_LINGER_S, transport.close)
        else:
            transport.close()

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.limits.header_timeout_s, self._head_timeout)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timeout(self) -> None:
        self._head_timer = None
        if self._refused or self.transport.is_closing():
            return
        if self._head_received:
            self._refuse(
                408,
                "request-timeout",
                f"The request head must arrive within {self.limits.header_timeout_s:g} s.",
            )
        else:
            self.transport.close()

    def _release(self, host: str | None = None) -> None:
        if host is None:
            host, self._counted = self._counted, None
        if host is None:
            return
        self._open[host] -= 1
        if self._open[host] <= 0:
            del self._open[host]


class DenyingWebSocketsProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol, for apps that refuse an upgrade with an HTTP answer (the
    ASGI ``websocket.http.response`` extension: a problem+json 401, 404...).

    uvicorn sends that answer, but then takes the handshake for unanswered and logs an error
    for every refusal; once the answer is out, the handshake is answered.
    """

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.http.response.body" and not message.get("more_body"):
            self.handshake_complete = True


def uvicorn_options(settings: ServiceSettings) -> dict[str, Any]:
    """uvicorn's options for ``settings``: the hardened protocol, its limits and timeouts, and
    X-Forwarded-For believed only from ``trusted_proxies``."""
    trusted = [str(network) for network in settings.trusted_proxies]
    protocol = functools.partial(
        HardenedHttpToolsProtocol, limits=ConnectionLimits.from_settings(settings)
    )
    return {
        "http": cast(type[asyncio.Protocol], protocol),
        "ws": DenyingWebSocketsProtocol,
        # permessage-deflate keeps a zlib compressor and decompressor per socket (about 46 KiB,
        # measured in bench/rooms), more than all else an idle socket holds; the messages on
        # our sockets are a few KiB of signalling, not worth it.
        "ws_per_message_deflate": False,
        # For whoever swaps in h11: its own bound on a request head.
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        "limit_concurrency": settings.max_concurrency,
        "timeout_keep_alive": settings.keep_alive_timeout_s,
        "timeout_graceful_shutdown": int(settings.shutdown_timeout_s),
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted or None,
        "server_header": False,
    }


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    configure_logging(
        service=settings.service_name, level=settings.log_level, json=settings.log_json
    )
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=uvicorn_log_config(),
        access_log=False,
        **uvicorn_options(settings),
    )
    uvicorn.Server(config).run()
