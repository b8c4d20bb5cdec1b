"""Per-process caches that keep availability cheap under load.

* The **snapshot** of a tenant's static data (services, offices, opening rules, closures,
  holidays) lives ``snapshot_seconds``: these change rarely, and every request would otherwise
  load them again.
* **Answers** of the availability endpoints live ``answer_seconds`` (a micro-cache): a portal
  under load asks the same month of the same office many times a second.

Both are forgotten at once in this process when the data behind them changes here (a hold,
a cancellation, an administrator's edit); other replicas see the change after the TTL at the
latest. Neither is used to decide capacity: a hold is always checked by the database, so a
stale answer can at worst offer a slot that then answers 409.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from datetime import date

from booking.hours.calendar import Interval, WeeklyRule


@dataclass(frozen=True)
class ServiceInfo:
    id: uuid.UUID
    duration_minutes: int


@dataclass(frozen=True)
class OfficeInfo:
    id: uuid.UUID
    tenant: str
    time_zone: str
    counters: int
    slot_minutes: int
    bookable_from_days: int
    bookable_until_days: int
    durations: dict[uuid.UUID, int | None]
    """Offered services and the office's own duration (None: the catalogue's)."""


@dataclass(frozen=True)
class TenantSnapshot:
    services: dict[uuid.UUID, ServiceInfo]
    offices: dict[uuid.UUID, OfficeInfo]
    rules: dict[uuid.UUID, list[WeeklyRule]]
    closures: dict[uuid.UUID, list[Interval]]
    holidays: frozenset[date]


@dataclass
class _Entry:
    expires: float
    value: object


@dataclass
class AvailabilityCache:
    snapshot_seconds: float
    answer_seconds: float
    max_answers: int = 20_000
    _snapshots: dict[str, _Entry] = field(default_factory=dict)
    _answers: dict[tuple[str, Hashable], _Entry] = field(default_factory=dict)
    _computing: dict[tuple[str, Hashable], asyncio.Future[bytes]] = field(default_factory=dict)
    _loading: dict[str, asyncio.Future[TenantSnapshot]] = field(default_factory=dict)

    async def snapshot(
        self, tenant: str, load: Callable[[], Awaitable[TenantSnapshot]]
    ) -> TenantSnapshot:
        now = time.monotonic()
        entry = self._snapshots.get(tenant)
        if entry is not None and entry.expires > now:
            assert isinstance(entry.value, TenantSnapshot)
            return entry.value
        running = self._loading.get(tenant)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[TenantSnapshot] = asyncio.get_running_loop().create_future()
        self._loading[tenant] = future
        try:
            value = await load()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiting requests re-raise it themselves
            raise
        else:
            future.set_result(value)
            if self.snapshot_seconds > 0:
                self._snapshots[tenant] = _Entry(now + self.snapshot_seconds, value)
            return value
        finally:
            self._loading.pop(tenant, None)

    async def answer(
        self, tenant: str, key: Hashable, compute: Callable[[], Awaitable[bytes]]
    ) -> bytes:
        """The cached answer, or the one being computed for the same question, or a new one.

        Concurrent misses of one key wait for a single computation instead of each running it.
        """
        full_key = (tenant, key)
        entry = self._answers.get(full_key)
        if entry is not None and entry.expires > time.monotonic():
            assert isinstance(entry.value, bytes)
            return entry.value
        running = self._computing.get(full_key)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._computing[full_key] = future
        try:
            value = await compute()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiting requests re-raise it themselves
            raise
        else:
            future.set_result(value)
            if self.answer_seconds > 0:
                if len(self._answers) >= self.max_answers:
                    self._answers.clear()
                self._answers[full_key] = _Entry(time.monotonic() + self.answer_seconds, value)
            return value
        finally:
            self._computing.pop(full_key, None)

    def forget_bookings(self, tenant: str) -> None:
        """Seats of the tenant changed: cached answers are stale."""
        for key in [k for k in self._answers if k[0] == tenant]:
            self._answers.pop(key, None)

    def forget_catalogue(self, tenant: str) -> None:
        """Services, offices or opening hours of the tenant changed."""
        self._snapshots.pop(tenant, None)
        self.forget_bookings(tenant)
