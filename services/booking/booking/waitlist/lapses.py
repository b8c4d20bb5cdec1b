"""Offers that ran out: each replica hands their seats on now and then (``hand_on_lapsed``).

A round takes the lapsed offers in batches (locked and skipped by a concurrent replica on
PostgreSQL), one transaction per batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime

from fastapi import FastAPI

from booking.bookings.dependencies import BookingDesk
from booking.waitlist.service import WaitlistDesk
from servicekit.db import Database, utcnow

logger = logging.getLogger("booking.waitlist")


async def hand_on_lapsed_offers(
    database: Database,
    desk: BookingDesk,
    waitlists: WaitlistDesk,
    *,
    batch: int = 200,
    now: datetime | None = None,
) -> int:
    """Hand on the seats of every offer that ran out by ``now``; how many were offered."""
    handed = 0
    while True:
        moment = now or utcnow()
        async with database.sessionmaker() as session:
            waitlist = waitlists.waitlist(desk.bookings(session))
            count, offered = await waitlist.hand_on_lapsed(moment, batch)
            handed += offered
            await session.commit()
        if count < batch:
            return handed


async def _periodically(app: FastAPI, interval_s: float) -> None:
    while True:
        try:
            await hand_on_lapsed_offers(
                app.state.database, app.state.booking_desk, app.state.waitlist_desk
            )
        except Exception:  # the next round tries again; the loop must not die
            logger.exception("handing on lapsed waitlist offers failed")
        await asyncio.sleep(interval_s)


async def start_lapses(app: FastAPI) -> None:
    interval = app.state.booking_desk.settings.waitlist_interval_s
    if interval > 0:
        app.state.waitlist_lapses = asyncio.create_task(_periodically(app, interval))


async def stop_lapses(app: FastAPI) -> None:
    task: asyncio.Task[None] | None = getattr(app.state, "waitlist_lapses", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
