"""What a configured URL may point at (see :mod:`servicekit.outbound`).

Free of any HTTP client, so that the settings, read before anything else, can build the policy
without loading one.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)
"""Where neighbouring instances run in development and tests: on this machine."""

UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")


class AddressRefused(ValueError):
    """The URL or an address it resolves to is not one we call."""


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
    allowed_hosts: frozenset[str] = field(default=frozenset())
    """Host names that may be called over http and wherever they resolve: our own services
    inside the deployment's network (``booking`` for identity's webhook to it)."""

    def check_url(self, scheme: str, host: str, userinfo: str | bytes) -> None:
        if scheme not in ("http", "https"):
            raise AddressRefused(f"the scheme {scheme!r} is not called")
        if self.https_only and scheme != "https" and host not in self.allowed_hosts:
            raise AddressRefused("only https URLs are called outside development")
        if userinfo:
            raise AddressRefused("URLs with credentials in them are not called")
        if not host:
            raise AddressRefused("the URL has no host")

    def check_address(self, host: str, address: IPAddress) -> None:
        kind = _kind(address)
        if kind is None or host in self.allowed_hosts:
            return
        if any(address in network for network in self.allowed_networks):
            return
        shown = host if host == str(address) else f"{host} ({address})"
        raise AddressRefused(f"{shown} is a {kind} address, which is not called")

    def check_literal(self, url: str) -> None:
        """Refuse at once what can be told without resolving the URL's host (at registration;
        the transport checks again on every call)."""
        # Here, not at the top: settings name the policy and must not load the HTTP client.
        import httpx

        try:
            parsed = urlsplit(url)
            host = parsed.hostname or ""
            # What the client will make of it: a host that is no IDNA name cannot be called.
            httpx.URL(url)
        except (ValueError, httpx.InvalidURL) as malformed:  # "https://G[/", "https://\x84"
            raise AddressRefused("the URL is not well-formed") from malformed
        self.check_url(parsed.scheme, host, parsed.username or parsed.password or "")
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            if host == "localhost" or host.endswith(".localhost"):
                address = ipaddress.ip_address("127.0.0.1")
            else:
                return
        self.check_address(host, address)


DEVELOPMENT_POLICY = OutboundPolicy(https_only=False, allowed_networks=LOOPBACK)
"""Development and tests: http, and neighbours on this machine."""
