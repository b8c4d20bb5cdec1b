"""The services behind the gateway: their replicas, which one to ask next, and when to stop asking.

A service has one or more replicas. Requests go round-robin to the replicas that are not
ejected; a replica that fails (connection refused, broken connection, deadline) is ejected for
a while and probed again afterwards (passively by the next request, actively by the health
loop). Above the replicas sits one circuit breaker per service: after a run of failures it
opens, and requests are answered 503 at once instead of waiting on a service that is down;
after ``open_s`` one probe request is let through (half-open) and its outcome closes or reopens it.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from gateway.http1 import Pool

logger = logging.getLogger("gateway.upstreams")


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


@dataclass
class CircuitBreaker:
    failure_threshold: int
    open_s: float
    state: BreakerState = BreakerState.CLOSED
    failures: int = 0
    opened_at: float = 0.0
    probing: bool = False

    def allow(self, now: float) -> bool:
        """May a request go to the service now? Half-open lets exactly one probe through."""
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN:
            if now - self.opened_at < self.open_s:
                return False
            self.state = BreakerState.HALF_OPEN
            self.probing = False
        if self.probing:
            return False
        self.probing = True
        return True

    def retry_after_s(self, now: float) -> int:
        if self.state is BreakerState.OPEN:
            return max(1, math.ceil(self.open_s - (now - self.opened_at)))
        return 1

    def succeeded(self) -> None:
        if self.state is not BreakerState.CLOSED:
            logger.info("circuit closed")
        self.state = BreakerState.CLOSED
        self.failures = 0
        self.probing = False

    def failed(self, now: float) -> None:
        self.failures += 1
        if self.state is BreakerState.HALF_OPEN or self.failures >= self.failure_threshold:
            if self.state is not BreakerState.OPEN:
                logger.warning("circuit opened", extra={"failures": self.failures})
            self.state = BreakerState.OPEN
            self.opened_at = now
            self.probing = False

    def release_probe(self) -> None:
        """A half-open probe that ended without a verdict (e.g. the client went away)."""
        self.probing = False


@dataclass
class Replica:
    url: str
    host: str
    port: int
    eject_s: float
    ejected_until: float = 0.0
    pools: dict[int, Pool] = field(default_factory=dict)

    @classmethod
    def from_url(cls, url: str, *, eject_s: float) -> Replica:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream URLs are plain http://host:port, got {url!r}")
        return cls(url=url.rstrip("/"), host=parts.hostname, port=parts.port or 80, eject_s=eject_s)

    def pool(self, loop: asyncio.AbstractEventLoop, connect_timeout_s: float) -> Pool:
        # One pool per event loop: tests and several servers in one process each run their own.
        key = id(loop)
        pool = self.pools.get(key)
        if pool is None:
            pool = Pool(self.host, self.port, loop=loop, connect_timeout_s=connect_timeout_s)
            self.pools[key] = pool
        return pool

    def available(self, now: float) -> bool:
        return self.ejected_until <= now

    def eject(self, now: float) -> None:
        if self.ejected_until <= now:
            logger.warning("replica ejected", extra={"replica": self.url})
        self.ejected_until = now + self.eject_s

    def restore(self) -> None:
        self.ejected_until = 0.0


class Upstream:
    """One service: its replicas and its circuit breaker."""

    def __init__(
        self,
        name: str,
        urls: list[str],
        *,
        eject_s: float,
        failure_threshold: int,
        open_s: float,
    ) -> None:
        if not urls:
            raise ValueError(f"service {name!r} has no replica")
        self.name = name
        self.replicas = [Replica.from_url(url, eject_s=eject_s) for url in urls]
        self.breaker = CircuitBreaker(failure_threshold=failure_threshold, open_s=open_s)
        self._next = 0

    def choose(self, now: float, exclude: Replica | None = None) -> Replica:
        """Round-robin over healthy replicas; if none is healthy, the one back soonest."""
        count = len(self.replicas)
        for _ in range(count):
            replica = self.replicas[self._next % count]
            self._next += 1
            if replica is not exclude and replica.available(now):
                return replica
        candidates = [r for r in self.replicas if r is not exclude] or self.replicas
        return min(candidates, key=lambda r: r.ejected_until)

    def close_pools(self, loop: asyncio.AbstractEventLoop) -> None:
        for replica in self.replicas:
            pool = replica.pools.pop(id(loop), None)
            if pool is not None:
                pool.close()


class Upstreams:
    def __init__(
        self,
        services: dict[str, list[str]],
        *,
        eject_s: float,
        failure_threshold: int,
        open_s: float,
        readiness_timeout_s: float,
    ) -> None:
        self.by_name = {
            name: Upstream(
                name, urls, eject_s=eject_s, failure_threshold=failure_threshold, open_s=open_s
            )
            for name, urls in services.items()
        }
        self.readiness_timeout_s = readiness_timeout_s
        self._client: httpx.AsyncClient | None = None

    def get(self, name: str) -> Upstream | None:
        return self.by_name.get(name)

    def _http(self) -> httpx.AsyncClient:
        # httpx is fine here: readiness probes are few and not on the request path.
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.readiness_timeout_s)
        return self._client

    async def probe(self, replica: Replica) -> bool:
        try:
            response = await self._http().get(f"{replica.url}/readyz")
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def replica_readiness(self, upstream: Upstream) -> dict[str, bool]:
        """Each replica's /readyz, at once; ejects the silent ones, restores the others."""
        results = await asyncio.gather(*(self.probe(r) for r in upstream.replicas))
        now = time.monotonic()
        for replica, ok in zip(upstream.replicas, results, strict=True):
            if ok:
                replica.restore()
            else:
                replica.eject(now)
        return {r.url: ok for r, ok in zip(upstream.replicas, results, strict=True)}

    async def ready(self, upstream: Upstream) -> None:
        """Readiness of a service: at least one replica answers its /readyz."""
        if not any((await self.replica_readiness(upstream)).values()):
            raise ConnectionError(f"no replica of {upstream.name} is ready")

    async def readiness(self, timeout_s: float) -> dict[str, dict[str, Any]]:
        """Every service's readiness at once: its status ("ok" while a replica is ready, else
        "unavailable"), how many of its replicas are ready, and its circuit breaker's state."""

        async def one(upstream: Upstream) -> dict[str, Any]:
            try:
                replicas = await asyncio.wait_for(self.replica_readiness(upstream), timeout_s)
            except TimeoutError:
                replicas = {r.url: False for r in upstream.replicas}
            ready = sum(replicas.values())
            # Counts, not addresses: /readyz is reachable from outside.
            return {
                "status": "ok" if ready else "unavailable",
                "replicas": len(replicas),
                "replicas_ready": ready,
                "circuit": upstream.breaker.state.value,
            }

        names = list(self.by_name)
        results = await asyncio.gather(*(one(self.by_name[name]) for name in names))
        return dict(zip(names, results, strict=True))

    async def health_loop(self, interval_s: float) -> None:
        """Active health checks: brings ejected replicas back, ejects silent ones."""
        while True:
            await asyncio.sleep(interval_s)
            for upstream in self.by_name.values():
                try:
                    await self.ready(upstream)
                except ConnectionError:
                    pass

    async def close(self, loop: asyncio.AbstractEventLoop) -> None:
        for upstream in self.by_name.values():
            upstream.close_pools(loop)
        if self._client is not None:
            await self._client.aclose()
            self._client = None
