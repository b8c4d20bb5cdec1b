"""The services behind the gateway and the one HTTP client pool that reaches them."""

from __future__ import annotations

from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class Upstream:
    name: str
    base_url: str


class Upstreams:
    def __init__(
        self, routes: dict[str, str], *, timeout_s: float, connect_timeout_s: float
    ) -> None:
        self.by_name = {name: Upstream(name, url) for name, url in routes.items()}
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=100),
            follow_redirects=False,
        )

    def get(self, name: str) -> Upstream | None:
        return self.by_name.get(name)

    async def ready(self, upstream: Upstream) -> None:
        response = await self.client.get(f"{upstream.base_url}/readyz")
        response.raise_for_status()

    async def close(self) -> None:
        await self.client.aclose()
