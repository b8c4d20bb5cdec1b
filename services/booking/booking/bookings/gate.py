"""A per-process gate in front of seat claims: holds that cannot win are answered at once.

When a popular slot opens, most holds for it are doomed: the database lets each of them wait
for the winners' commits and only then reports the unit full. The gate

* lets at most ``counters`` holds per slot unit talk to the database at the same time; the
  others wait (without a database connection) for one of those to finish, up to
  ``wait_seconds``, and then look again;
* remembers, for ``memory_seconds``, the units the database reported full (or that a claim of
  this process just filled), and answers holds for them 409 without asking the database.

Capacity is decided by the database alone: the gate can only refuse early, never admit a hold
the database would refuse. What it remembers can be stale for at most ``memory_seconds``: a
seat freed by another replica, or by a hold running out, is offered to holds of this process
again after that time. Seats freed in this process (a cancellation, a reschedule) are forgotten
at once.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

from booking.bookings.errors import SlotTaken

Unit = tuple[uuid.UUID, datetime]


class SeatGate:
    def __init__(
        self,
        memory_seconds: float,
        *,
        wait_seconds: float = 5.0,
        max_remembered: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.memory_seconds = memory_seconds
        self.wait_seconds = wait_seconds
        self.max_remembered = max_remembered
        self.clock = clock
        self._full_until: dict[Unit, float] = {}
        self._claiming: dict[Unit, int] = {}
        self._finished: dict[Unit, asyncio.Event] = {}

    def known_full(self, office_id: uuid.UUID, units: Iterable[datetime]) -> bool:
        now = self.clock()
        for unit in units:
            until = self._full_until.get((office_id, unit))
            if until is not None:
                if until > now:
                    return True
                del self._full_until[(office_id, unit)]
        return False

    def mark_full(self, office_id: uuid.UUID, units: Iterable[datetime]) -> None:
        if self.memory_seconds <= 0:
            return
        if len(self._full_until) >= self.max_remembered:
            self._forget_expired()
        until = self.clock() + self.memory_seconds
        for unit in units:
            self._full_until[(office_id, unit)] = until

    def forget(self, units: Iterable[Unit]) -> None:
        """Seats of these units were freed here: let the database decide again."""
        for unit in units:
            self._full_until.pop(unit, None)

    @asynccontextmanager
    async def admit(
        self, office_id: uuid.UUID, units: Sequence[datetime], capacity: int
    ) -> AsyncIterator[int]:
        """Wait for a turn to claim seats of ``units``; yields the seat to try first.

        Raises ``SlotTaken`` when a unit is known to be full, before or after waiting.
        """
        keys = [(office_id, unit) for unit in units]
        deadline = self.clock() + self.wait_seconds
        while True:
            if self.known_full(office_id, units):
                raise SlotTaken("Every counter is booked at this time; pick another slot.")
            busy = [key for key in keys if self._claiming.get(key, 0) >= capacity]
            remaining = deadline - self.clock()
            if not busy or remaining <= 0:
                break
            finished = self._finished.setdefault(busy[0], asyncio.Event())
            try:
                await asyncio.wait_for(finished.wait(), remaining)
            except TimeoutError:
                break  # the database decides
        first_seat = max((self._claiming.get(key, 0) for key in keys), default=0)
        for key in keys:
            self._claiming[key] = self._claiming.get(key, 0) + 1
        try:
            yield first_seat % max(capacity, 1)
        finally:
            for key in keys:
                left = self._claiming[key] - 1
                if left:
                    self._claiming[key] = left
                else:
                    del self._claiming[key]
                waiting = self._finished.pop(key, None)
                if waiting is not None:
                    waiting.set()

    def _forget_expired(self) -> None:
        now = self.clock()
        for key in [key for key, until in self._full_until.items() if until <= now]:
            del self._full_until[key]
        while len(self._full_until) >= self.max_remembered:
            del self._full_until[next(iter(self._full_until))]
