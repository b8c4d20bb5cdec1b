"""The citizen's mails about a booking, delivered over real SMTP (aiosmtpd on loopback) and
parsed back: MIME structure, both parts, the iMIP invitation across reschedule and cancel, and
the manage link followed through the API."""

from __future__ import annotations

import re
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import httpx
import icalendar
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from booking.mail.models import OutboxMail
from booking.offices.models import OfficeService
from servicekit.db import utcnow
from servicekit.mail import MailDispatcher, MailStatus, SmtpSecurity, SmtpServer
from servicekit.mail.sink import MailSink
from servicekit.testing.live import free_port

from ..factories import (
    CONTACT,
    LETTERHEAD,
    PORTAL_URL,
    at,
    book,
    create_office,
    create_service,
    hold,
    local_day,
    office_with_service,
    open_every_day,
)

LINK = re.compile(re.escape(PORTAL_URL) + r"/bookings/[0-9a-f-]{36}#token=[A-Za-z0-9_-]+")


def dispatcher(app: FastAPI, port: int) -> MailDispatcher:
    return MailDispatcher(
        OutboxMail,
        app.state.database.sessionmaker,
        smtp=SmtpServer("127.0.0.1", port, SmtpSecurity.NONE, timeout_s=5),
        envelope_from="termine@rathaus.example",
        pauses_s=(60,),
    )


async def delivered(app: FastAPI, sink: tuple[MailSink, int]) -> list[EmailMessage]:
    """Send what is due to the sink; every mail it has received, oldest first."""
    server, port = sink
    await dispatcher(app, port).send_due()
    return [message_from_bytes(path.read_bytes(), policy=default) for path in server.stored]


def parts(message: EmailMessage) -> tuple[str, str, icalendar.Calendar, icalendar.Calendar]:
    """The text, the HTML, the calendar part and the attached .ics; asserts the shape."""
    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = message.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    text, html, calendar = cast(EmailMessage, alternative).iter_parts()
    assert (text.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    assert calendar.get_content_type() == "text/calendar"
    assert attachment.get_content_type() == "application/ics"
    assert attachment.get_filename() is not None
    assert attachment.get_filename().endswith(".ics")  # type: ignore[union-attr]
    inline = icalendar.Calendar.from_ical(cast(EmailMessage, calendar).get_content())
    attached = icalendar.Calendar.from_ical(cast(EmailMessage, attachment).get_content())
    # The part's method is what a calendar program acts on: it must be the object's own.
    assert calendar.get_param("method") == str(inline["METHOD"])
    assert attached.to_ical() == inline.to_ical()
    return (
        cast(EmailMessage, text).get_content(),
        cast(EmailMessage, html).get_content(),
        inline,
        attached,
    )


def event_of(calendar: icalendar.Calendar) -> Any:
    [event] = calendar.walk("VEVENT")
    return event


async def follow(client: httpx.AsyncClient, link: str) -> httpx.Response:
    """What the citizen portal does with a mailed link: the booking, by the link's token."""
    url = urlsplit(link)
    booking_id = url.path.rsplit("/", 1)[1]
    token = url.fragment.removeprefix("token=")
    return await client.get(f"/booking/v1/bookings/{booking_id}", headers={"X-Manage-Token": token})


async def test_a_confirmation_mails_the_appointment_with_its_invitation_and_manage_link(
    client: httpx.AsyncClient, session: AsyncSession, app: FastAPI, sink: tuple[MailSink, int]
) -> None:
    service = await create_service(
        session, documents=[("Reisepass", True), ("Geburtsurkunde", False)], fee_cents=3700
    )
    office = await create_office(session, service)
    await open_every_day(session, office)
    start = at(local_day(3), 9, 30)

    booking = await book(client, office, service, start=start)
    [mail] = await delivered(app, sink)

    assert str(mail["To"]) == f"{CONTACT['name']} <{CONTACT['email']}>"
    assert str(mail["From"]) == f"{LETTERHEAD['sender_name']} <termine@rathaus.example>"
    assert str(mail["Reply-To"]) == LETTERHEAD["reply_to"]
    assert booking["code"] in str(mail["Subject"])
    assert "09:30" in str(mail["Subject"])  # the office's local time
    text, html, calendar, _ = parts(mail)
    for part in (text, html):
        assert office.name in part
        assert office.street in part
        assert service.name_de in part
        assert booking["code"] in part
        assert "Reisepass" in part
        assert "Geburtsurkunde (falls vorhanden)" in part
        assert "37,00\xa0€" in part
        assert LETTERHEAD["imprint"] in part
    assert str(calendar["METHOD"]) == "REQUEST"
    event = event_of(calendar)
    assert str(event["UID"]) == f"{booking['id']}@booking.rathaus"
    assert int(event["SEQUENCE"]) == 0
    assert event.decoded("DTSTART") == start
    assert str(event["ATTENDEE"]) == f"mailto:{CONTACT['email']}"
    assert str(event["ORGANIZER"]) == f"mailto:{LETTERHEAD['reply_to']}"
    [link] = set(LINK.findall(text))
    assert f'href="{link}"' in html
    followed = await follow(client, link)
    assert followed.status_code == 200, followed.text
    assert followed.json()["code"] == booking["code"]


ROOM_LINK = re.compile(re.escape(PORTAL_URL) + r"/bookings/[0-9a-f-]{36}/room#token=[A-Za-z0-9_-]+")


async def test_a_video_appointments_mail_links_its_consultation_room(
    client: httpx.AsyncClient, session: AsyncSession, app: FastAPI, sink: tuple[MailSink, int]
) -> None:
    video = await create_service(session)
    desk = await create_service(session)
    office = await create_office(session, video, desk)
    await open_every_day(session, office)
    await session.execute(
        update(OfficeService)
        .where(OfficeService.office_id == office.id, OfficeService.service_id == video.id)
        .values(mode="video")
    )
    remote = await book(client, office, video, start=at(local_day(3), 9))
    present = await book(client, office, desk, start=at(local_day(3), 10))
    assert (remote["mode"], present["mode"]) == ("video", "in_person")

    by_video, in_person = [parts(mail)[:2] for mail in await delivered(app, sink)]
    text, html = by_video
    [link] = set(ROOM_LINK.findall(text))
    assert f'href="{link}"' in html
    assert f"/bookings/{remote['id']}/room#" in link
    assert "Videogespräch" in text
    # The room's link opens with the manage token, as the manage link does.
    token = link.partition("#token=")[2]
    seen = await client.get(
        f"/booking/v1/bookings/{remote['id']}", headers={"X-Manage-Token": token}
    )
    assert seen.status_code == 200, seen.text
    assert not any(ROOM_LINK.search(part) for part in in_person)
    assert "Videogespräch" not in in_person[0]


async def test_reschedule_and_cancel_update_the_same_invitation_with_a_raised_sequence(
    client: httpx.AsyncClient, session: AsyncSession, app: FastAPI, sink: tuple[MailSink, int]
) -> None:
    office, service = await office_with_service(session)
    first, moved = at(local_day(3), 9), at(local_day(4), 11)
    booking = await book(client, office, service, start=first)
    [confirmation] = await delivered(app, sink)
    [link] = set(LINK.findall(parts(confirmation)[0]))
    token = urlsplit(link).fragment.removeprefix("token=")
    headers = {"X-Manage-Token": token}  # as the portal does after following the link

    rescheduled = await client.post(
        f"/booking/v1/bookings/{booking['id']}/reschedule",
        json={"start": moved.isoformat()},
        headers=headers,
    )
    cancelled = await client.post(f"/booking/v1/bookings/{booking['id']}/cancel", headers=headers)
    again = await client.post(f"/booking/v1/bookings/{booking['id']}/cancel", headers=headers)
    mails = await delivered(app, sink)

    assert rescheduled.status_code == 200, rescheduled.text
    assert (cancelled.status_code, again.status_code) == (200, 200)
    assert len(mails) == 3  # the repeated cancellation mails nothing
    _, moved_mail, cancel_mail = mails
    moved_text, _, moved_calendar, _ = parts(moved_mail)
    cancel_text, cancel_html, cancel_calendar, _ = parts(cancel_mail)
    assert "verschoben" in str(moved_mail["Subject"])
    assert "11:00" in str(moved_mail["Subject"])
    assert "09:00" in moved_text  # the previous time is named
    assert "abgesagt" in str(cancel_mail["Subject"])
    assert booking["code"] in cancel_text
    assert PORTAL_URL in cancel_html
    uid = f"{booking['id']}@booking.rathaus"
    moved_event, cancel_event = event_of(moved_calendar), event_of(cancel_calendar)
    assert [str(c["METHOD"]) for c in (moved_calendar, cancel_calendar)] == ["REQUEST", "CANCEL"]
    assert [str(e["UID"]) for e in (moved_event, cancel_event)] == [uid, uid]
    assert [int(e["SEQUENCE"]) for e in (moved_event, cancel_event)] == [1, 2]
    assert moved_event.decoded("DTSTART") == moved
    assert str(cancel_event["STATUS"]) == "CANCELLED"
    [moved_link] = set(LINK.findall(moved_text))
    assert moved_link == link  # one manage link for the booking's life
    assert (await follow(client, moved_link)).json()["status"] == "cancelled"


async def test_the_mail_is_in_the_language_of_the_booking(
    client: httpx.AsyncClient, session: AsyncSession, app: FastAPI, sink: tuple[MailSink, int]
) -> None:
    service = await create_service(session, fee_cents=1250)
    office = await create_office(session, service)
    await open_every_day(session, office)
    held = await hold(
        client,
        office,
        service,
        start=at(local_day(3), 11),
        headers={"Accept-Language": "en-GB,en;q=0.9,de;q=0.5"},
    )
    token = held.json()["manage_token"]

    confirmed = await client.post(
        f"/booking/v1/bookings/{held.json()['id']}/confirm",
        json=CONTACT,
        headers={"X-Manage-Token": token, "Accept-Language": "de"},
    )
    [mail] = await delivered(app, sink)

    assert confirmed.status_code == 200
    assert str(mail["Subject"]).strip().startswith("Your appointment on ")
    assert "11:00\u202fAM" in str(mail["Subject"])
    text, html, _, _ = parts(mail)
    assert "Please bring" in text
    assert "€12.50" in text
    assert "Please bring" in html


async def test_a_retried_confirmation_mails_once(
    client: httpx.AsyncClient, session: AsyncSession, app: FastAPI, sink: tuple[MailSink, int]
) -> None:
    office, service = await office_with_service(session)
    held = await hold(client, office, service, start=at(local_day(3), 10))
    headers = {
        "X-Manage-Token": held.json()["manage_token"],
        "Idempotency-Key": "confirm-once-0123456789",
    }
    url = f"/booking/v1/bookings/{held.json()['id']}/confirm"

    answers = [await client.post(url, json=CONTACT, headers=headers) for _ in range(3)]
    mails = await delivered(app, sink)

    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert len(mails) == 1


async def test_a_hold_let_go_mails_nothing(
    client: httpx.AsyncClient, session: AsyncSession, app: FastAPI, sink: tuple[MailSink, int]
) -> None:
    office, service = await office_with_service(session)
    held = await hold(client, office, service, start=at(local_day(3), 10))

    cancelled = await client.post(
        f"/booking/v1/bookings/{held.json()['id']}/cancel",
        headers={"X-Manage-Token": held.json()["manage_token"]},
    )

    assert cancelled.status_code == 200
    assert await delivered(app, sink) == []


async def test_an_smtp_server_that_is_down_neither_blocks_nor_fails_the_booking(
    client: httpx.AsyncClient, session: AsyncSession, app: FastAPI, tmp_path: Path
) -> None:
    office, service = await office_with_service(session)
    port = free_port()  # nothing listens there yet

    booking = await book(client, office, service, start=at(local_day(3), 10))
    sender = dispatcher(app, port)
    down = await sender.send_due()
    [waiting] = (await session.scalars(select(OutboxMail))).all()
    waiting_state = (waiting.status, waiting.attempts, waiting.last_error or "")
    await session.execute(update(OutboxMail).values(next_attempt_at=utcnow()))
    up = MailSink(tmp_path / "received")
    await up.start(port=port)
    try:
        sent = await sender.send_due()
    finally:
        await up.stop()

    assert booking["status"] == "confirmed"
    assert down == 0
    assert waiting_state[:2] == (MailStatus.PENDING, 1)
    assert waiting_state[2].startswith("not reached")
    assert sent == 1
    [stored] = up.stored
    assert booking["code"] in str(
        message_from_bytes(stored.read_bytes(), policy=default)["Subject"]
    )
