"""Per-process caches that keep availability cheap under load.

* The **snapshot** of a tenant's static data (services with their required documents,
  offices, opening rules, closures, holidays: the municipality's and its Land's, the latter
  computed once per Land and year, see ``hours.public_holidays``) lives ``snapshot_seconds``:
  these change rarely, and every request would otherwise load them again. Bookings are
  described (office, service names, checklist) from it as well.
* **Answers** of the availability endpoints live ``answer_seconds`` (a micro-cache): a portal
  under load asks the same month of the same office many times a second. When one runs out,
  one request recomputes it while the others still get the old one (for at most another
  ``answer_seconds``).

* **Opening days**: an office's open UTC intervals of a local day, keyed by everything they
  are computed from (zone, rules, closures, closed days), so a changed office simply gets a
  new key: a month of a district's offices is thousands of office-days, each a handful of
  time-zone conversions, and the hours change far more rarely than the snapshot is reloaded.

Snapshots and answers are forgotten at once in this process when the data behind them
changes here (a hold, a cancellation, an administrator's edit); other replicas see the change
after the TTL at the latest. None of them decides capacity: a hold is always checked by the
database, so a stale answer can at worst offer a slot that then answers 409.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from datetime import date
from typing import Generic, TypeVar

from booking.hours.calendar import Interval, WeeklyRule

K = TypeVar("K", bound=Hashable)

MAX_OPENING_KEYS = 10_000
"""Offices' hours whose opening days one process keeps (a changed office's old key ages out)."""
MAX_OPENING_DAYS = 1_000
"""Days kept per office's hours before they start over (the window moves a day a day)."""
V = TypeVar("V")


@dataclass(frozen=True)
class DocumentInfo:
    """A required document of a service: one item of a booking's checklist."""

    id: uuid.UUID
    name_de: str
    name_en: str
    description_de: str
    description_en: str
    mandatory: bool
    accepted_formats: tuple[str, ...]


@dataclass(frozen=True)
class ServiceInfo:
    id: uuid.UUID
    duration_minutes: int
    leika: str
    name_de: str
    name_en: str
    documents: tuple[DocumentInfo, ...]


@dataclass(frozen=True)
class OfficeInfo:
    id: uuid.UUID
    tenant: str
    name: str
    street: str
    postal_code: str
    city: str
    time_zone: str
    counters: int
    slot_minutes: int
    bookable_from_days: int
    bookable_until_days: int
    opens_on_public_holidays: bool
    durations: dict[uuid.UUID, int | None]
    """Offered services and the office's own duration (None: the catalogue's)."""
    video: frozenset[uuid.UUID] = frozenset()
    """The offered services the office serves by video."""


@dataclass(frozen=True)
class TenantSnapshot:
    services: dict[uuid.UUID, ServiceInfo]
    offices: dict[uuid.UUID, OfficeInfo]
    rules: dict[uuid.UUID, list[WeeklyRule]]
    closures: dict[uuid.UUID, list[Interval]]
    holidays: frozenset[date]
    """Local days every office is closed: the holidays the municipality declares."""
    public_holidays: frozenset[date]
    """Local days an office that does not open on public holidays is closed: the Land's public
    holidays and the municipality's own."""

    def closed_days(self, office: OfficeInfo) -> frozenset[date]:
        return self.holidays if office.opens_on_public_holidays else self.public_holidays


@dataclass
class _Entry(Generic[V]):
    expires: float
    value: V


class _SingleFlightCache(Generic[K, V]):
    """Values kept ``seconds``; concurrent misses of one key wait for a single computation.

    With ``serve_stale``, while that computation runs the others get the value that has just
    run out (if it ran out less than ``seconds`` ago) instead of waiting for it.
    """

    def __init__(
        self, seconds: float, max_entries: int | None = None, *, serve_stale: bool = False
    ) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self.serve_stale = serve_stale
        self.entries: dict[K, _Entry[V]] = {}
        self._running: dict[K, asyncio.Future[V]] = {}

    async def get(self, key: K, compute: Callable[[], Awaitable[V]]) -> V:
        entry = self.entries.get(key)
        now = time.monotonic()
        if entry is not None and entry.expires > now:
            return entry.value
        running = self._running.get(key)
        if running is not None:
            if self.serve_stale and entry is not None and now - entry.expires < self.seconds:
                return entry.value
            return await asyncio.shield(running)
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._running[key] = future
        try:
            value = await compute()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiting requests re-raise it themselves
            raise
        else:
            future.set_result(value)
            if self.seconds > 0:
                if self.max_entries is not None and len(self.entries) >= self.max_entries:
                    self.entries.clear()
                self.entries[key] = _Entry(time.monotonic() + self.seconds, value)
            return value
        finally:
            self._running.pop(key, None)


class AvailabilityCache:
    def __init__(
        self, snapshot_seconds: float, answer_seconds: float, max_answers: int = 20_000
    ) -> None:
        self._snapshots: _SingleFlightCache[str, TenantSnapshot] = _SingleFlightCache(
            snapshot_seconds
        )
        # While one request recomputes an answer that has just run out, the others get the
        # old one (at most twice ``answer_seconds`` old) instead of queueing behind the query.
        # Snapshots are never served stale: they carry each office's number of counters.
        self._answers: _SingleFlightCache[tuple[str, Hashable], bytes] = _SingleFlightCache(
            answer_seconds, max_answers, serve_stale=True
        )
        self._opening: dict[Hashable, dict[date, list[Interval]]] = {}

    def opening_days(self, key: Hashable) -> dict[date, list[Interval]]:
        """The open intervals of the local days of one office's hours (``key``: what they
        are computed from), filled in by the caller; bounded by dropping all at a limit."""
        found = self._opening.get(key)
        if found is None or len(found) > MAX_OPENING_DAYS:
            if len(self._opening) >= MAX_OPENING_KEYS:
                self._opening.clear()
            found = self._opening[key] = {}
        return found

    async def snapshot(
        self, tenant: str, load: Callable[[], Awaitable[TenantSnapshot]]
    ) -> TenantSnapshot:
        return await self._snapshots.get(tenant, load)

    async def answer(
        self, tenant: str, key: Hashable, compute: Callable[[], Awaitable[bytes]]
    ) -> bytes:
        """The cached answer, or the one being computed for the same question, or a new one."""
        return await self._answers.get((tenant, key), compute)

    def forget_bookings(self, tenant: str) -> None:
        """Seats of the tenant changed: cached answers are stale."""
        for key in [k for k in self._answers.entries if k[0] == tenant]:
            self._answers.entries.pop(key, None)

    def forget_catalogue(self, tenant: str) -> None:
        """Services, offices or opening hours of the tenant changed."""
        self._snapshots.entries.pop(tenant, None)
        self.forget_bookings(tenant)
