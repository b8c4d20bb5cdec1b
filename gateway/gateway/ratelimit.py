"""Token buckets per client address and per token subject, per route class.

``MemoryLimiter`` keeps the buckets in the process (one gateway replica, or a budget per
replica); ``RedisLimiter`` keeps them in Redis, refilled and taken atomically by one Lua
script on the server's clock, so that every gateway replica draws from one budget.

While Redis cannot be reached, ``RedisLimiter`` decides with per-process buckets (a budget per
worker process, not none) and asks Redis again every ``retry_s``; each change is logged once and
shown as ``gateway_rate_limit_fallback`` (and ``gateway_rate_limit_fallbacks_total``).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.settings import Bucket


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_s: int
    """Seconds until the bucket is full again."""
    retry_after_s: int
    """Seconds until the next request would pass (0 when allowed)."""
    window_s: int
    policy: str


def _decide(policy: str, bucket: Bucket, allowed: bool, tokens: float) -> Decision:
    missing = bucket.burst - tokens
    reset_s = math.ceil(missing / bucket.per_s) if missing > 0 else 0
    retry = 0 if allowed else max(1, math.ceil((1.0 - tokens) / bucket.per_s))
    return Decision(
        allowed=allowed,
        limit=bucket.burst,
        remaining=max(0, int(tokens)),
        reset_s=reset_s,
        retry_after_s=retry,
        window_s=max(1, math.ceil(bucket.burst / bucket.per_s)),
        policy=policy,
    )


logger = logging.getLogger("gateway.ratelimit")


class Limiter(Protocol):
    @property
    def fallback(self) -> bool:
        """Deciding with per-process buckets because the shared store is unreachable."""
        ...

    @property
    def fallbacks(self) -> int:
        """How often it fell back so far."""
        ...

    async def take(self, policy: str, key: str, bucket: Bucket) -> Decision: ...

    async def aclose(self) -> None: ...


class LimiterCollector:
    """The limiter's state for Prometheus, read at each scrape."""

    def __init__(self, limiter: Limiter) -> None:
        self._limiter = limiter

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "gateway_rate_limit_fallback",
            "1 while rate limits are per process because Redis is unreachable",
            value=1 if self._limiter.fallback else 0,
        )
        yield CounterMetricFamily(
            "gateway_rate_limit_fallbacks",
            "Times the rate limits fell back to per-process budgets",
            value=self._limiter.fallbacks,
        )


class MemoryLimiter:
    """Buckets in a dict; stale ones are swept now and then so memory stays bounded."""

    fallback = False
    fallbacks = 0

    def __init__(self, *, max_keys: int = 100_000) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}
        self._max_keys = max_keys

    async def take(self, policy: str, key: str, bucket: Bucket) -> Decision:
        return self.take_now(policy, key, bucket, time.monotonic())

    def take_now(self, policy: str, key: str, bucket: Bucket, now: float) -> Decision:
        state = self._buckets.get(key)
        if state is None:
            tokens = float(bucket.burst)
            if len(self._buckets) >= self._max_keys:
                self._sweep(now)
        else:
            tokens = min(float(bucket.burst), state[0] + (now - state[1]) * bucket.per_s)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._buckets[key] = (tokens, now)
        return _decide(policy, bucket, allowed, tokens)

    def _sweep(self, now: float) -> None:
        # A bucket untouched for a minute is (nearly always) full: forgetting it changes nothing.
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 60.0}
        if len(self._buckets) >= self._max_keys:
            self._buckets.clear()

    async def aclose(self) -> None:
        self._buckets.clear()


# KEYS[1] bucket key; ARGV: burst, per_s. Returns {allowed, tokens * 1000}.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil then
  tokens = burst
else
  tokens = math.min(burst, tokens + (now - ts) * rate)
end
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, math.floor(tokens * 1000)}
"""


class RedisLimiter:
    def __init__(
        self, url: str, *, prefix: str, timeout_s: float = 0.25, retry_s: float = 1.0
    ) -> None:
        # Short timeouts: an unreachable Redis costs a request at most this (once per retry_s).
        self._redis: Redis = Redis.from_url(
            url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s
        )
        self._prefix = prefix
        self._script = self._redis.register_script(_TAKE)
        self._retry_s = retry_s
        self._local = MemoryLimiter()
        self._retry_at = 0.0
        self.fallback = False
        self.fallbacks = 0

    async def take(self, policy: str, key: str, bucket: Bucket) -> Decision:
        now = time.monotonic()
        if self.fallback and now < self._retry_at:
            return self._local.take_now(policy, key, bucket, now)
        try:
            result = await self._script(
                keys=[self._prefix + key], args=[bucket.burst, bucket.per_s]
            )
        except (RedisError, OSError, TimeoutError) as exc:
            if not self.fallback:
                self.fallback = True
                self.fallbacks += 1
                logger.warning(
                    "Redis unreachable: rate limits are per process until it is back",
                    extra={"error": type(exc).__name__},
                )
            self._retry_at = now + self._retry_s
            return self._local.take_now(policy, key, bucket, now)
        if self.fallback:
            self.fallback = False
            logger.info("Redis reachable again: rate limits are shared again")
        allowed, milli_tokens = int(result[0]), int(result[1])
        return _decide(policy, bucket, bool(allowed), milli_tokens / 1000)

    async def aclose(self) -> None:
        await self._redis.aclose()
        await self._local.aclose()
