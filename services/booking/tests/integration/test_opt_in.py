"""The double opt-in (the default): a hold without an account is confirmed only by the link
mailed to its address, by a POST within the hold's lifetime; a GET of the link (a mail
scanner's) changes nothing; a signed-in citizen confirms directly."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from email.message import EmailMessage
from typing import cast
from urllib.parse import urlsplit

import httpx
import icalendar
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from booking.bookings.models import Booking
from servicekit.db import utcnow
from servicekit.mail.sink import MailSink
from servicekit.testing.tokens import TokenFactory

from ..factories import (
    CONTACT,
    OPT_IN_TENANT,
    PORTAL_URL,
    at,
    hold,
    local_day,
    office_with_service,
)
from .test_mails import LINK, delivered, follow, parts

OPT_IN_LINK = re.compile(
    re.escape(PORTAL_URL) + r"/bookings/[0-9a-f-]{36}/opt-in#token=[A-Za-z0-9_-]+"
)


async def held_and_asked(
    client: httpx.AsyncClient, session: AsyncSession
) -> tuple[dict[str, str], httpx.Response]:
    office, service = await office_with_service(session, OPT_IN_TENANT)
    held = await hold(client, office, service, start=at(local_day(3), 9))
    assert held.status_code == 201, held.text
    asked = await client.post(
        f"/booking/v1/bookings/{held.json()['id']}/confirm",
        json=CONTACT,
        headers={"X-Manage-Token": held.json()["manage_token"]},
    )
    return held.json(), asked


def opt_in_parts(link: str) -> tuple[str, str]:
    url = urlsplit(link)
    return url.path.split("/")[-2], url.fragment.removeprefix("token=")


async def test_a_hold_without_an_account_is_confirmed_by_the_mailed_link_with_a_post(
    client: httpx.AsyncClient, session: AsyncSession, app: FastAPI, sink: tuple[MailSink, int]
) -> None:
    held, asked = await held_and_asked(client, session)
    [request] = await delivered(app, sink)

    assert asked.status_code == 200, asked.text
    assert asked.json()["status"] == "held"  # not yet
    assert request.get_content_type() == "multipart/alternative"  # no invitation yet
    assert str(request["To"]).endswith(f"<{CONTACT['email']}>")
    text, html = (cast(EmailMessage, part).get_content() for part in request.iter_parts())
    [link] = set(OPT_IN_LINK.findall(text))
    assert f'href="{link}"' in html
    assert LINK.search(text) is None  # the manage link comes with the confirmation
    booking_id, token = opt_in_parts(link)
    assert booking_id == held["id"]

    scanned = [
        await client.get(f"/booking/v1/bookings/{booking_id}/opt-in", params={"token": token})
        for _ in range(2)
    ]
    after_scan = await client.get(
        f"/booking/v1/bookings/{booking_id}", headers={"X-Manage-Token": held["manage_token"]}
    )
    wrong = await client.post(
        f"/booking/v1/bookings/{booking_id}/opt-in", json={"token": held["manage_token"]}
    )
    confirmed = await client.post(
        f"/booking/v1/bookings/{booking_id}/opt-in", json={"token": token}
    )
    again = await client.post(f"/booking/v1/bookings/{booking_id}/opt-in", json={"token": token})
    _, confirmation = await delivered(app, sink)

    assert [answer.status_code for answer in scanned] == [200, 200]
    assert scanned[0].json()["status"] == "held"
    assert scanned[0].json()["contact"] is None  # the link alone shows no personal data
    assert after_scan.json()["status"] == "held"
    assert wrong.status_code == 404  # the hold's own token does not confirm
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "confirmed"
    assert (again.status_code, again.json()["status"]) == (200, "confirmed")
    text, _, calendar, _ = parts(confirmation)
    assert str(calendar["METHOD"]) == "REQUEST"
    [manage] = set(LINK.findall(text))
    followed = await follow(client, manage)
    assert followed.json()["contact"]["email"] == CONTACT["email"]


async def test_a_token_with_characters_no_link_has_is_not_found(
    client: httpx.AsyncClient, session: AsyncSession, app: FastAPI, sink: tuple[MailSink, int]
) -> None:
    # Compared as bytes: a non-ASCII token was a TypeError (500) in the constant-time compare.
    held, _ = await held_and_asked(client, session)
    await delivered(app, sink)
    forged = "ä" * 20

    shown = await client.get(f"/booking/v1/bookings/{held['id']}/opt-in", params={"token": forged})
    confirmed = await client.post(
        f"/booking/v1/bookings/{held['id']}/opt-in", json={"token": forged}
    )

    assert (shown.status_code, confirmed.status_code) == (404, 404), confirmed.text
    assert confirmed.headers["content-type"] == "application/problem+json"


async def test_the_link_no_longer_confirms_once_the_hold_ran_out(
    client: httpx.AsyncClient,
    session: AsyncSession,
    app: FastAPI,
    sink: tuple[MailSink, int],
    no_full_slot_memory: None,
) -> None:
    held, _ = await held_and_asked(client, session)
    [request] = await delivered(app, sink)
    [link] = set(OPT_IN_LINK.findall(cast(EmailMessage, next(request.iter_parts())).get_content()))
    booking_id, token = opt_in_parts(link)
    await session.execute(
        update(Booking)
        .where(Booking.id == uuid.UUID(held["id"]))
        .values(hold_expires_at=utcnow() - timedelta(seconds=1))
    )

    late = await client.post(f"/booking/v1/bookings/{booking_id}/opt-in", json={"token": token})

    assert late.status_code == 409
    assert late.json()["type"] == "urn:rathaus:problem:hold-expired"
    assert len(await delivered(app, sink)) == 1  # no confirmation


async def test_a_signed_in_citizen_confirms_directly(
    client: httpx.AsyncClient,
    session: AsyncSession,
    app: FastAPI,
    sink: tuple[MailSink, int],
    tokens: TokenFactory,
) -> None:
    office, service = await office_with_service(session, OPT_IN_TENANT)
    headers = tokens.headers(sub="citizen-1", tenant=OPT_IN_TENANT, roles=["citizen"])
    held = await hold(client, office, service, start=at(local_day(3), 9), headers=headers)

    confirmed = await client.post(
        f"/booking/v1/bookings/{held.json()['id']}/confirm", json=CONTACT, headers=headers
    )
    [mail] = await delivered(app, sink)

    assert confirmed.json()["status"] == "confirmed"
    _, _, calendar, _ = parts(mail)
    assert isinstance(calendar, icalendar.Calendar)
    assert str(calendar["METHOD"]) == "REQUEST"


async def test_asking_again_with_another_address_mails_nothing_and_shows_nothing(
    client: httpx.AsyncClient, session: AsyncSession, app: FastAPI, sink: tuple[MailSink, int]
) -> None:
    held, _ = await held_and_asked(client, session)
    [request] = await delivered(app, sink)
    manage = {"X-Manage-Token": held["manage_token"]}

    same = await client.post(
        f"/booking/v1/bookings/{held['id']}/confirm", json=CONTACT, headers=manage
    )
    other = await client.post(
        f"/booking/v1/bookings/{held['id']}/confirm",
        json={"name": "Mallory", "email": "mallory@example.org"},
        headers=manage,
    )
    mails = await delivered(app, sink)
    [link] = set(OPT_IN_LINK.findall(cast(EmailMessage, next(request.iter_parts())).get_content()))
    booking_id, token = opt_in_parts(link)
    confirmed = await client.post(
        f"/booking/v1/bookings/{booking_id}/opt-in", json={"token": token}
    )

    assert same.status_code == 200  # the same address: nothing new, nothing mailed again
    assert other.status_code == 409
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["type"] == "urn:rathaus:problem:opt-in-pending"
    assert CONTACT["email"] not in other.text
    assert [str(mail["To"]) for mail in mails] == [str(request["To"])]
    assert confirmed.json()["status"] == "confirmed"  # the first address's link still does
    _, confirmation = await delivered(app, sink)
    assert str(confirmation["To"]).endswith(f"<{CONTACT['email']}>")
