"""Wakes the event streams of a room in this process when something happened in it.

A stream also looks into the database every few seconds on its own, so events written by
another replica of the service reach it too, only later.
"""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import BackgroundTasks


class RoomBell:
    def __init__(self, max_streams: int = 1000) -> None:
        self._waiters: dict[str, set[asyncio.Future[None]]] = {}
        self.max_streams = max_streams
        self.streams = 0
        """Event streams open in this process (each polls the database now and then)."""

    @property
    def full(self) -> bool:
        return self.streams >= self.max_streams

    async def ring(self, booking_id: str) -> None:
        """Wake every stream of the room (a coroutine, so that it runs on the event loop)."""
        for waiter in self._waiters.pop(booking_id, set()):
            if not waiter.done():
                waiter.set_result(None)

    async def wait(self, booking_id: str, timeout_s: float) -> bool:
        """Until the room's bell rings (True) or ``timeout_s`` passed (False)."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters = self._waiters.setdefault(booking_id, set())
        waiters.add(waiter)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter, timeout_s)
                return True
            return False
        finally:
            waiters.discard(waiter)
            if not waiters and self._waiters.get(booking_id) is waiters:
                del self._waiters[booking_id]

    @property
    def listening(self) -> int:
        """How many streams wait (for the tests and the metrics)."""
        return sum(len(waiters) for waiters in self._waiters.values())


def ring_after_commit(background: BackgroundTasks, bell: RoomBell, booking_id: str) -> None:
    """Wake the booking's consultation room streams once the response (and so the request's
    commit) is done: a stream woken earlier would not see the new events yet."""
    background.add_task(bell.ring, booking_id)
