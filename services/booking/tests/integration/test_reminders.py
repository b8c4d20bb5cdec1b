"""Reminders: due a municipality's hours before the appointment, with the manage link, none
when booked inside that window, and each sent once however many replicas queue them."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import cast

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from booking.bookings.models import Booking, BookingItem, BookingStatus
from booking.bookings.reminders import queue_due_reminders
from booking.mail.models import OutboxMail
from servicekit.db import Database, utcnow
from servicekit.mail.sink import MailSink

from ..conftest import make_app
from ..factories import (
    CONTACT,
    OTHER_TENANT,
    TENANT,
    at,
    book,
    create_office,
    create_service,
    local_day,
    office_with_service,
    open_every_day,
)
from .test_mails import LINK, delivered, dispatcher, follow


async def reminders(session: AsyncSession) -> list[OutboxMail]:
    query = select(OutboxMail).where(OutboxMail.template == "reminder").order_by(OutboxMail.id)
    return list((await session.scalars(query)).all())


async def test_a_reminder_is_due_a_day_before_and_carries_the_manage_link(
    client: httpx.AsyncClient, session: AsyncSession, app: FastAPI, sink: tuple[MailSink, int]
) -> None:
    office, service = await office_with_service(session)
    start = at(local_day(3), 9)
    booking = await book(client, office, service, start=start)
    database, desk = app.state.database, app.state.booking_desk

    early = await queue_due_reminders(database, desk, now=start - timedelta(hours=25))
    due = await queue_due_reminders(database, desk, now=start - timedelta(hours=23))
    again = await queue_due_reminders(database, desk, now=start - timedelta(hours=22))
    mails = await delivered(app, sink)

    assert (early, due, again) == (0, 1, 0)
    _, reminder = mails  # after the confirmation
    assert str(reminder["Subject"]).strip().startswith("Erinnerung: ")
    assert booking["code"] in str(reminder["Subject"])
    assert reminder.get_content_type() == "multipart/alternative"  # no calendar change
    text, html = (cast(EmailMessage, part).get_content() for part in reminder.iter_parts())
    [link] = set(LINK.findall(text))
    assert link in html
    assert (await follow(client, link)).json()["id"] == booking["id"]


async def test_a_moved_booking_is_reminded_of_its_new_time_and_a_cancelled_one_not(
    client: httpx.AsyncClient, session: AsyncSession, app: FastAPI
) -> None:
    service = await create_service(session)
    office = await create_office(session, service, counters=2)
    await open_every_day(session, office)
    start, later = at(local_day(3), 9), at(local_day(5), 9)
    moved = await book(client, office, service, start=start)
    cancelled = await book(
        client, office, service, start=start, contact={**CONTACT, "email": "max@example.org"}
    )
    headers = {"X-Manage-Token": moved["manage_token"]}
    await client.post(
        f"/booking/v1/bookings/{moved['id']}/reschedule",
        json={"start": later.isoformat()},
        headers=headers,
    )
    await client.post(
        f"/booking/v1/bookings/{cancelled['id']}/cancel",
        headers={"X-Manage-Token": cancelled["manage_token"]},
    )
    database, desk = app.state.database, app.state.booking_desk

    at_old_time = await queue_due_reminders(database, desk, now=start - timedelta(hours=23))
    at_new_time = await queue_due_reminders(database, desk, now=later - timedelta(hours=23))

    assert (at_old_time, at_new_time) == (0, 1)
    [reminder] = await reminders(session)
    assert (reminder.subject_key, reminder.sequence) == (f"booking:{moved['id']}", 1)


async def test_no_reminder_when_booked_inside_the_municipality_s_window(
    client: httpx.AsyncClient, session: AsyncSession, app: FastAPI
) -> None:
    # The other municipality reminds two weeks ahead (see conftest): a booking three days
    # ahead is inside that window.
    office, service = await office_with_service(session, OTHER_TENANT)
    start = at(local_day(3), 9)
    await book(client, office, service, start=start)

    queued = await queue_due_reminders(
        app.state.database, app.state.booking_desk, now=start - timedelta(minutes=5)
    )

    assert queued == 0
    assert await reminders(session) == []


async def test_two_replicas_send_each_reminder_once(
    fresh_database_url: str, sink: tuple[MailSink, int]
) -> None:
    replicas = [make_app(fresh_database_url), make_app(fresh_database_url)]
    database: Database = replicas[0].state.database
    now = utcnow()
    count = 40
    async with database.sessionmaker() as session:
        service = await create_service(session)
        office = await create_office(session, service, counters=count)
        for number in range(count):
            booking_id = uuid.uuid4()
            starts = now + timedelta(hours=20, minutes=number)
            session.add(
                Booking(
                    id=booking_id,
                    tenant=TENANT,
                    office_id=office.id,
                    code=f"RM{number:02d}-TEST",
                    status=BookingStatus.CONFIRMED,
                    starts_at=starts,
                    ends_at=starts + timedelta(minutes=20),
                    manage_token_hash="",
                    name="Erika Mustermann",
                    email=f"citizen{number}@example.org",
                    confirmed_at=now,
                    remind_at=starts - timedelta(hours=24),
                    items=[
                        BookingItem(
                            booking_id=booking_id,
                            position=0,
                            service_id=service.id,
                            duration_minutes=20,
                        )
                    ],
                )
            )
        await session.commit()
    try:
        queued = await asyncio.gather(
            *(
                queue_due_reminders(app.state.database, app.state.booking_desk, batch=7)
                for app in replicas
            )
        )
        sent = await asyncio.gather(*(dispatcher(app, sink[1]).send_due() for app in replicas))
        async with database.sessionmaker() as session:
            rows = await reminders(session)
            left = await session.scalar(
                select(func.count()).select_from(Booking).where(Booking.remind_at.is_not(None))
            )
    finally:
        for app in replicas:
            await app.state.database.dispose()

    assert sum(queued) == count
    assert sum(sent) == count
    assert len({row.subject_key for row in rows}) == len(rows) == count
    assert left == 0
    recipients = [
        str(message_from_bytes(path.read_bytes(), policy=default)["To"]) for path in sink[0].stored
    ]
    assert len(recipients) == len(set(recipients)) == count
