"""Erasing what a booking says about its citizen once the tenant's retention period has passed.

What stays is what the municipality steers by: the appointment's office, services, times,
status, code and visit (KPIs). What goes: name, e-mail, phone, the account the booking belonged
to, and the manage link (its hash, so the link stops working). Safe to run concurrently and
again: each batch is one UPDATE of rows that still carry personal data, in its own transaction;
a second runner finds none left.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from booking.bookings.models import BookingStatus
from booking.bookings.repository import BookingRepository
from booking.bookings.service import Bookings, Caller
from booking.events.models import CITIZEN_ERASED, CitizenErased
from booking.settings import BookingSettings
from booking.waitlist.repository import SubscriptionRepository
from servicekit.auth import Principal
from servicekit.db import utcnow
from servicekit.events import Outbox

BATCH = 500


async def erase_expired(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: BookingSettings,
    *,
    now: datetime,
    tenant: str | None = None,
) -> int:
    """Erase the personal data of every booking (of ``tenant``, or of all tenants) whose
    appointment ended more than the tenant's retention period ago; how many this run erased."""
    async with sessionmaker() as session:
        tenants = [tenant] if tenant else list(await BookingRepository(session).tenants())
    erased = 0
    for current in tenants:
        cutoff = now - timedelta(days=settings.retention_days_for(current))
        while True:
            async with sessionmaker() as session:
                count = await BookingRepository(session).erase_ended(current, cutoff, BATCH)
                await session.commit()
            erased += count
            if count < BATCH:
                break
    return erased


@dataclass(frozen=True)
class Erasure:
    cancelled: int
    erased: int
    booking_ids: list[uuid.UUID]


async def erase_person(
    bookings: Bookings,
    outbox: Outbox,
    tenant: str,
    principal: Principal,
    subject: str | None,
    email: str | None,
) -> Erasure:
    """On a citizen's request (Art. 17 DSGVO): cancel their bookings still ahead, which frees
    the seats, and erase what every booking and waitlist subscription of theirs says about
    them; the event ``citizen.erased`` names the bookings, for documents to delete their
    documents.

    The citizen is named by account (``subject``), by e-mail address, or both; a second run
    finds nothing left under either.
    """
    now = utcnow()
    email = email.lower() if email else None
    # Their waitlist subscriptions first: the seats their cancellations free (an offer held
    # for them among them) go to the next subscribers, not back to them.
    await SubscriptionRepository(bookings.bookings.session).erase_of(tenant, subject, email)
    found = await bookings.bookings.of_person(tenant, subject, email)
    cancelled = 0
    for booking in found:
        if booking.status != BookingStatus.CANCELLED and booking.starts_at > now:
            await bookings.cancel(booking.id, Caller(principal))
            cancelled += 1
    booking_ids = [booking.id for booking in found]
    erased = await bookings.bookings.erase(booking_ids)
    if booking_ids:
        outbox.emit(
            bookings.bookings.session,
            CITIZEN_ERASED,
            CitizenErased(booking_ids=booking_ids).model_dump(mode="json"),
            tenant=tenant,
        )
    return Erasure(cancelled=cancelled, erased=erased, booking_ids=booking_ids)
