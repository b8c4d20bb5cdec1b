"""The SSRF-safe HTTP client for configured URLs; the rules are in :mod:`servicekit.outbound`."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence

import httpx

from servicekit.outbound.policy import AddressRefused, IPAddress, OutboundPolicy

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""Host name and port to the addresses they resolve to."""

MAX_POOLS = 256
"""Connection pools kept (one per host name); the least recently used one is closed."""


class OutboundRefused(httpx.TransportError):
    """The URL or an address it resolves to is not one we call."""


class AnswerTooLarge(Exception):
    """The peer answered more than the caller reads."""


async def resolve_with_system(host: str, port: int) -> Sequence[str]:
    """The addresses the system's resolver gives for ``host``."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class GuardedTransport(httpx.AsyncBaseTransport):
    """An ``httpx`` transport that calls only addresses its policy allows, pinned (see the
    module's docstring)."""

    def __init__(
        self,
        policy: OutboundPolicy,
        *,
        resolve: Resolver = resolve_with_system,
        limits: httpx.Limits | None = None,
        verify: bool | str = True,
    ) -> None:
        self.policy = policy
        self._resolve = resolve
        self._limits = limits or httpx.Limits()
        self._verify = verify
        self._pools: OrderedDict[str, httpx.AsyncHTTPTransport] = OrderedDict()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        host = url.host
        try:
            self.policy.check_url(url.scheme, host, url.userinfo)
            address = await self._checked_address(host, url.port or _default_port(url.scheme))
        except AddressRefused as refused:
            raise OutboundRefused(str(refused), request=request) from refused
        extensions = dict(request.extensions)
        if url.scheme == "https":
            extensions["sni_hostname"] = host
        pinned = httpx.Request(
            request.method,
            url.copy_with(host=str(address)),
            headers=request.headers,  # Host: stays the name the URL gave
            stream=request.stream,
            extensions=extensions,
        )
        return await (await self._pool(host)).handle_async_request(pinned)

    async def _checked_address(self, host: str, port: int) -> IPAddress:
        try:
            return self._checked([ipaddress.ip_address(host)], host)
        except ValueError:
            pass
        try:
            answers = await self._resolve(host, port)
        except (OSError, UnicodeError) as error:  # UnicodeError: no IDNA name
            raise httpx.ConnectError(f"{host} does not resolve: {error}") from error
        addresses = [ipaddress.ip_address(answer.split("%", 1)[0]) for answer in answers]
        if not addresses:
            raise httpx.ConnectError(f"{host} does not resolve")
        return self._checked(addresses, host)

    def _checked(self, addresses: Iterable[IPAddress], host: str) -> IPAddress:
        # Every address must pass: a name with one public and one private address would
        # otherwise reach the private one whenever the resolver put it first.
        checked = list(addresses)
        for address in checked:
            self.policy.check_address(host, address)
        return checked[0]

    async def _pool(self, host: str) -> httpx.AsyncHTTPTransport:
        pool = self._pools.get(host)
        if pool is None:
            pool = httpx.AsyncHTTPTransport(limits=self._limits, verify=self._verify)
            self._pools[host] = pool
            if len(self._pools) > MAX_POOLS:
                _, oldest = self._pools.popitem(last=False)
                await oldest.aclose()
        else:
            self._pools.move_to_end(host)
        return pool

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), OrderedDict()
        for pool in pools:
            await pool.aclose()


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def outbound_client(
    policy: OutboundPolicy,
    *,
    timeout_s: float = 5.0,
    max_connections: int = 50,
    resolve: Resolver = resolve_with_system,
    verify: bool | str = True,
) -> httpx.AsyncClient:
    """A client for configured URLs: checked, pinned, no redirects, no proxy from the
    environment, every request within ``timeout_s``."""
    transport = GuardedTransport(
        policy,
        resolve=resolve,
        limits=httpx.Limits(max_connections=max_connections),
        verify=verify,
    )
    return httpx.AsyncClient(
        transport=transport, follow_redirects=False, trust_env=False, timeout=timeout_s
    )


async def read_bounded(response: httpx.Response, limit: int) -> bytes:
    """The body of a streamed ``response``, refused with :class:`AnswerTooLarge` past
    ``limit`` bytes (what is read stops there)."""
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > limit:
            raise AnswerTooLarge(f"answered more than {limit} bytes")
    return bytes(body)
