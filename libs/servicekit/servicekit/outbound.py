"""Calls to URLs that someone configured: partner municipalities, webhooks.

Such a URL is chosen by an administrator or a partner, not by us, so a call to it must not
become a way into our own network (server-side request forgery): to the cloud's metadata
address, the database next door, the cluster's internal names, or a port scan through the
reasons we report. :func:`outbound_client` returns an ``httpx.AsyncClient`` whose transport

- refuses any scheme but https outside development and tests (``OutboundPolicy.https_only``),
  and URLs with credentials in them;
- resolves the host itself and checks *every* address it resolves to: loopback, private,
  link-local, multicast, unique-local, reserved and unspecified addresses are refused unless
  the policy's allow-list names their network;
- connects to the address it checked (the URL's host is replaced by it; the ``Host`` header and
  the TLS server name stay the host's, so the certificate is still verified for the name), so a
  second DNS answer cannot send the connection elsewhere (DNS rebinding);
- keeps a connection pool per host name, so a connection verified for one name never carries
  another's request;
- follows no redirect and reads no proxy settings from the environment.

A refusal is an :class:`OutboundRefused` (an ``httpx.TransportError``): callers that already
treat an unreachable peer as unavailable need no new branch. Its message says why, for the
administrator's eyes; an anonymous caller should learn no more than "unavailable".
:func:`read_bounded` reads an answer up to a size limit.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""Host name and port to the addresses they resolve to."""

LOOPBACK: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)
"""Where neighbouring instances run in development and tests: on this machine."""

UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")

MAX_POOLS = 256
"""Connection pools kept (one per host name); the least recently used one is closed."""


class OutboundRefused(httpx.TransportError):
    """The URL or an address it resolves to is not one we call."""


class AnswerTooLarge(Exception):
    """The peer answered more than the caller reads."""


def _kind(address: IPAddress) -> str | None:
    """Why ``address`` is not on the public internet (None: it is)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return _kind(address.ipv4_mapped)
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("unique-local", address in UNIQUE_LOCAL),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
    )
    for name, applies in checks:
        if applies:
            return name
    if not address.is_global:  # shared address space (100.64/10) and the like
        return "not public"
    return None


@dataclass(frozen=True)
class OutboundPolicy:
    """What a configured URL may point at."""

    https_only: bool
    allowed_networks: tuple[IPNetwork, ...] = field(default=())
    """Non-public networks that may be called all the same (e.g. a partner on a private link)."""

    def check_url(self, url: httpx.URL) -> None:
        if url.scheme not in ("http", "https"):
            raise OutboundRefused(f"the scheme {url.scheme!r} is not called")
        if self.https_only and url.scheme != "https":
            raise OutboundRefused("only https URLs are called outside development")
        if url.userinfo:
            raise OutboundRefused("URLs with credentials in them are not called")
        if not url.host:
            raise OutboundRefused("the URL has no host")

    def check_address(self, host: str, address: IPAddress) -> None:
        kind = _kind(address)
        if kind is None or any(address in network for network in self.allowed_networks):
            return
        shown = host if host == str(address) else f"{host} ({address})"
        raise OutboundRefused(f"{shown} is a {kind} address, which is not called")

    def check_literal(self, url: str) -> None:
        """Refuse at once what can be told without resolving the URL's host (at registration;
        the transport checks again on every call)."""
        parsed = httpx.URL(url)
        self.check_url(parsed)
        try:
            address = ipaddress.ip_address(parsed.host)
        except ValueError:
            if parsed.host.lower() == "localhost" or parsed.host.lower().endswith(".localhost"):
                address = ipaddress.ip_address("127.0.0.1")
            else:
                return
        self.check_address(parsed.host, address)


DEVELOPMENT_POLICY = OutboundPolicy(https_only=False, allowed_networks=LOOPBACK)
"""Development and tests: http, and neighbours on this machine."""


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
        self.policy.check_url(url)
        host = url.host
        address = await self._checked_address(host, url.port or _default_port(url.scheme))
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
        except OSError as error:
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
