"""Reminders: each replica queues the due ones now and then, and each goes out once.

A booking's ``remind_at`` is set when it is confirmed or moved (its municipality's
``reminder_hours`` before the appointment; none when booked inside that window) and cleared
when the reminder is queued or the booking cancelled. A round takes the due bookings in
batches (locked and skipped by a concurrent replica on PostgreSQL) and queues each reminder in
the same transaction that clears ``remind_at``; should two replicas still meet on one booking,
the mail's key (``booking:<id>``, ``reminder``, sequence) makes the second enqueue a no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime

from fastapi import FastAPI

from booking.bookings.dependencies import BookingDesk
from servicekit.db import Database, utcnow

logger = logging.getLogger("booking.reminders")


async def queue_due_reminders(
    database: Database, desk: BookingDesk, *, batch: int = 200, now: datetime | None = None
) -> int:
    """Queue every reminder due at ``now``, one transaction per batch; how many."""
    queued = 0
    while True:
        moment = now or utcnow()
        async with database.sessionmaker() as session:
            bookings = desk.bookings(session)
            due = await bookings.bookings.due_reminders(moment, batch)
            for booking in due:
                queued += await bookings.remind(booking, moment)
            await session.commit()
        if len(due) < batch:
            return queued


async def _remind_periodically(database: Database, desk: BookingDesk, interval_s: float) -> None:
    while True:
        try:
            await queue_due_reminders(database, desk, batch=desk.settings.reminder_batch)
        except Exception:  # the next round tries again; the loop must not die
            logger.exception("queueing reminders failed")
        await asyncio.sleep(interval_s)


async def start_reminders(app: FastAPI) -> None:
    desk: BookingDesk = app.state.booking_desk
    interval = desk.settings.reminder_interval_s
    if interval > 0:
        app.state.reminders = asyncio.create_task(
            _remind_periodically(app.state.database, desk, interval)
        )


async def stop_reminders(app: FastAPI) -> None:
    task: asyncio.Task[None] | None = getattr(app.state, "reminders", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
