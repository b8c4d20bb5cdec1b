"""The waitlist through the API: subscribing (signed in, or by the mailed link), the offer of
a freed seat held for the first subscriber, booking it by the mailed link, unsubscribing,
the limit per address, bad input, and an offer that runs out going to the next subscriber.
Every mail goes through real SMTP (aiosmtpd on loopback) and every link is followed."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from email.message import EmailMessage
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from booking.bookings.models import Booking, SlotClaim
from booking.catalogue.models import Service
from booking.offices.models import Office
from booking.waitlist.lapses import hand_on_lapsed_offers
from booking.waitlist.models import Subscription
from servicekit.db import utcnow
from servicekit.mail.sink import MailSink
from servicekit.testing.tokens import TokenFactory

from ..factories import (
    CONTACT,
    PORTAL_URL,
    TENANT,
    at,
    book,
    create_office,
    create_service,
    hold,
    local_day,
    open_every_day,
)
from .test_mails import LINK, delivered, follow, parts

WAITLIST_LINK = re.compile(
    re.escape(PORTAL_URL)
    + r"/waitlist/(?P<id>[0-9a-f-]{36})/(?P<page>confirm|unsubscribe|offer)#token=(?P<token>[\w-]+)"
)
WAITER = {"name": "Max Muster", "email": "max@example.org"}
ADMIN = {"sub": "admin-1", "tenant": TENANT, "roles": ["admin"]}


def text_of(mail: EmailMessage) -> str:
    body = mail.get_body(("plain",))
    assert body is not None
    content: str = cast(EmailMessage, body).get_content()
    return content


def html_of(mail: EmailMessage) -> str:
    body = mail.get_body(("html",))
    assert body is not None
    content: str = cast(EmailMessage, body).get_content()
    return content


def links(mail: EmailMessage) -> dict[str, tuple[str, str]]:
    """The waitlist links of a mail by page: (subscription id, token); each also in the HTML."""
    found = {}
    for match in WAITLIST_LINK.finditer(text_of(mail)):
        assert f'href="{match[0]}"' in html_of(mail)
        found[match["page"]] = (match["id"], match["token"])
    return found


def to(mails: list[EmailMessage], address: str) -> list[EmailMessage]:
    return [mail for mail in mails if str(mail["To"]).endswith(f"<{address}>")]


async def cancel(client: httpx.AsyncClient, booked: dict[str, Any]) -> httpx.Response:
    """Cancel by the manage link, as the booking's citizen does."""
    return await client.post(
        f"/booking/v1/bookings/{booked['id']}/cancel",
        headers={"X-Manage-Token": booked["manage_token"]},
    )


async def office_and_service(session: AsyncSession, *, counters: int = 1) -> tuple[Office, Service]:
    service = await create_service(session)
    office = await create_office(session, service, counters=counters)
    await open_every_day(session, office)
    return office, service


async def subscribe(
    client: httpx.AsyncClient,
    service: Service,
    office: Office | None = None,
    *,
    days: tuple[int, int] = (3, 3),
    who: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await client.post(
        f"/booking/v1/tenants/{TENANT}/waitlist",
        json={
            "service_id": str(service.id),
            "office_id": str(office.id) if office is not None else None,
            "first_day": local_day(days[0]).isoformat(),
            "last_day": local_day(days[1]).isoformat(),
            **(who or WAITER),
        },
        headers=headers or {},
    )


async def waiting(
    client: httpx.AsyncClient,
    app: FastAPI,
    sink: tuple[MailSink, int],
    service: Service,
    office: Office | None = None,
    who: dict[str, str] | None = None,
) -> str:
    """Subscribe without an account and confirm the mailed link; the subscription's id."""
    who = who or WAITER
    subscribed = await subscribe(client, service, office, who=who)
    assert subscribed.status_code == 201, subscribed.text
    [mail] = [m for m in to(await delivered(app, sink), who["email"]) if "confirm" in links(m)]
    subscription_id, token = links(mail)["confirm"]
    confirmed = await client.post(
        f"/booking/v1/waitlist/{subscription_id}/confirm", json={"token": token}
    )
    assert confirmed.json()["status"] == "waiting", confirmed.text
    return subscription_id


async def offer_mail(
    app: FastAPI, sink: tuple[MailSink, int], address: str = WAITER["email"]
) -> EmailMessage:
    offers = [m for m in to(await delivered(app, sink), address) if "offer" in links(m)]
    assert offers, "no offer was mailed"
    return offers[-1]


async def test_a_subscriber_confirms_the_address_gets_the_freed_seat_held_and_books_it(
    client: httpx.AsyncClient, session: AsyncSession, app: FastAPI, sink: tuple[MailSink, int]
) -> None:
    office, service = await office_and_service(session)
    start = at(local_day(3), 9)
    booked = await book(client, office, service, start=start)

    subscribed = await subscribe(client, service, office)
    [ask] = to(await delivered(app, sink), WAITER["email"])
    asked = links(ask)
    subscription_id, confirm_token = asked["confirm"]
    scanned = await client.get(
        f"/booking/v1/waitlist/{subscription_id}", params={"token": confirm_token}
    )
    confirmed = await client.post(
        f"/booking/v1/waitlist/{subscription_id}/confirm", json={"token": confirm_token}
    )
    wrong = await client.post(
        f"/booking/v1/waitlist/{subscription_id}/confirm", json={"token": asked["unsubscribe"][1]}
    )
    # Compared as bytes: a non-ASCII token was a TypeError (500) in the constant-time compare.
    forged = await client.post(
        f"/booking/v1/waitlist/{subscription_id}/confirm", json={"token": "ä" * 20}
    )
    cancelled = await cancel(client, booked)
    offer = await offer_mail(app, sink)
    offer_id, offer_token = links(offer)["offer"]
    shown = await client.get(
        f"/booking/v1/waitlist/{subscription_id}/offer", params={"token": offer_token}
    )
    taken_by_another = await hold(client, office, service, start=start)
    accepted = await client.post(
        f"/booking/v1/waitlist/{subscription_id}/offer", json={"token": offer_token}
    )
    again = await client.post(
        f"/booking/v1/waitlist/{subscription_id}/offer", json={"token": offer_token}
    )
    after = await client.get(
        f"/booking/v1/waitlist/{subscription_id}", params={"token": asked["unsubscribe"][1]}
    )
    confirmation = to(await delivered(app, sink), WAITER["email"])[-1]

    assert subscribed.status_code == 201, subscribed.text
    assert subscribed.json()["status"] == "pending"
    assert "Warteliste" in str(ask["Subject"])
    assert service.name_de in text_of(ask)
    assert scanned.json()["status"] == "pending"  # a scanner's GET changes nothing
    assert confirmed.json()["status"] == "waiting"
    assert wrong.status_code == 404  # the unsubscribe link does not confirm
    assert forged.status_code == 404, forged.text
    assert cancelled.json()["status"] == "cancelled"
    assert offer_id == subscription_id
    assert "09:00" in str(offer["Subject"])
    assert shown.status_code == 200, shown.text
    assert shown.json()["status"] == "offered"
    assert shown.json()["booking"]["starts_at"] == start.isoformat().replace("+00:00", "Z")
    assert shown.json()["booking"]["contact"] is None
    assert taken_by_another.status_code == 409  # held for the subscriber alone
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "confirmed"
    assert (again.status_code, again.json()["status"]) == (200, "confirmed")
    assert after.json()["status"] == "booked"
    _, _, calendar, _ = parts(confirmation)
    assert str(calendar["METHOD"]) == "REQUEST"
    [manage] = set(LINK.findall(text_of(confirmation)))
    followed = await follow(client, manage)
    assert followed.json()["contact"]["email"] == WAITER["email"]
    assert followed.json()["starts_at"] == accepted.json()["starts_at"]


async def test_a_signed_in_citizen_waits_at_once_and_is_offered_in_english(
    client: httpx.AsyncClient,
    session: AsyncSession,
    app: FastAPI,
    sink: tuple[MailSink, int],
    tokens: TokenFactory,
) -> None:
    office, service = await office_and_service(session)
    booked = await book(client, office, service, start=at(local_day(3), 10))
    headers = {
        **tokens.headers(sub="citizen-7", tenant=TENANT, roles=["citizen"]),
        "Accept-Language": "en",
    }

    subscribed = await subscribe(client, service, headers=headers)  # any office
    before = await delivered(app, sink)
    await cancel(client, booked)
    offer = await offer_mail(app, sink)

    assert subscribed.json()["status"] == "waiting"
    assert subscribed.json()["office_id"] is None
    assert to(before, WAITER["email"]) == []  # no link to confirm
    assert "please confirm by" in str(offer["Subject"])
    mine = await client.get("/booking/v1/bookings", headers=headers)
    [held] = mine.json()["items"]
    assert held["status"] == "held"  # the offer's hold belongs to the account


@pytest.mark.parametrize("trigger", ["reschedule", "erasure", "lifted_closure", "new_hours"])
async def test_seats_freed_by_any_change_are_offered(
    client: httpx.AsyncClient,
    session: AsyncSession,
    app: FastAPI,
    sink: tuple[MailSink, int],
    tokens: TokenFactory,
    trigger: str,
) -> None:
    service = await create_service(session)
    office = await create_office(session, service, counters=1)
    admin = tokens.headers(**ADMIN)
    base = f"/booking/v1/tenants/{TENANT}/offices/{office.id}"
    expected = at(local_day(3), 9)
    if trigger == "new_hours":
        expected = at(local_day(3), 8)
    else:
        await open_every_day(session, office)
    if trigger == "lifted_closure":
        closed = await client.post(
            f"{base}/closures",
            json={
                "starts_at": at(local_day(3), 8).isoformat(),
                "ends_at": at(local_day(3), 12).isoformat(),
            },
            headers=admin,
        )
        assert closed.json()["cancelled_bookings"] == 0
        expected = at(local_day(3), 8)
    booked: dict[str, Any] | None = None
    if trigger in ("reschedule", "erasure"):
        booked = await book(client, office, service, start=expected)
    await waiting(client, app, sink, service, office)

    if trigger == "reschedule":
        assert booked is not None
        moved = await client.post(
            f"/booking/v1/bookings/{booked['id']}/reschedule",
            json={"start": at(local_day(4), 9).isoformat()},
            headers={"X-Manage-Token": booked["manage_token"]},
        )
        assert moved.status_code == 200, moved.text
    elif trigger == "erasure":
        erased = await client.post(
            f"/booking/v1/tenants/{TENANT}/erasures",
            json={"email": CONTACT["email"]},
            headers=admin,
        )
        assert erased.json()["cancelled"] == 1, erased.text
    elif trigger == "lifted_closure":
        lifted = await client.delete(f"{base}/closures/{closed.json()['id']}", headers=admin)
        assert lifted.status_code == 204
    else:
        opened = await client.put(
            f"{base}/opening-hours",
            json={
                "rules": [
                    {"weekday": d, "opens": "08:00", "closes": "12:00", "valid_from": "2020-01-01"}
                    for d in range(1, 8)
                ]
            },
            headers=admin,
        )
        assert opened.json()["cancelled_bookings"] == 0, opened.text
    offer = await offer_mail(app, sink)
    subscription_id, token = links(offer)["offer"]
    shown = await client.get(
        f"/booking/v1/waitlist/{subscription_id}/offer", params={"token": token}
    )

    assert shown.json()["booking"]["starts_at"] == expected.isoformat().replace("+00:00", "Z")


async def test_one_subscriber_gets_one_offer_at_a_time(
    client: httpx.AsyncClient, session: AsyncSession, app: FastAPI, sink: tuple[MailSink, int]
) -> None:
    office, service = await office_and_service(session)
    first = await book(client, office, service, start=at(local_day(3), 9))
    second = await book(client, office, service, start=at(local_day(3), 10))
    await waiting(client, app, sink, service, office)

    for booked in (first, second):
        await cancel(client, booked)
    offers = [m for m in to(await delivered(app, sink), WAITER["email"]) if "offer" in links(m)]
    second_slot = await hold(client, office, service, start=at(local_day(3), 10))

    assert len(offers) == 1
    assert second_slot.status_code == 201  # free for anybody


async def test_unsubscribing_by_the_link_ends_the_waiting_and_hands_a_held_seat_on(
    client: httpx.AsyncClient, session: AsyncSession, app: FastAPI, sink: tuple[MailSink, int]
) -> None:
    office, service = await office_and_service(session)
    booked = await book(client, office, service, start=at(local_day(3), 9))
    first = await waiting(client, app, sink, service, office)
    second = await waiting(
        client, app, sink, service, office, who={"name": "Eva", "email": "eva@example.org"}
    )
    await cancel(client, booked)
    offer = await offer_mail(app, sink)
    _, token = links(offer)["unsubscribe"]

    shown = await client.get(f"/booking/v1/waitlist/{first}", params={"token": token})
    left = await client.post(f"/booking/v1/waitlist/{first}/unsubscribe", json={"token": token})
    again = await client.post(f"/booking/v1/waitlist/{first}/unsubscribe", json={"token": token})
    handed = await offer_mail(app, sink, "eva@example.org")
    stale = await client.post(
        f"/booking/v1/waitlist/{first}/offer", json={"token": links(offer)["offer"][1]}
    )

    assert shown.json()["status"] == "offered"
    assert left.json()["status"] == "ended"
    assert again.json()["status"] == "ended"
    assert links(handed)["offer"][0] == second
    assert stale.status_code == 409
    assert stale.json()["type"] == "urn:rathaus:problem:waitlist-no-offer"


async def test_an_offer_that_runs_out_goes_to_the_next_subscriber(
    client: httpx.AsyncClient,
    session: AsyncSession,
    app: FastAPI,
    sink: tuple[MailSink, int],
    no_full_slot_memory: None,
) -> None:
    office, service = await office_and_service(session)
    start = at(local_day(3), 9)
    booked = await book(client, office, service, start=start)
    first = await waiting(client, app, sink, service, office)
    second = await waiting(
        client, app, sink, service, office, who={"name": "Eva", "email": "eva@example.org"}
    )
    await cancel(client, booked)
    late = links(await offer_mail(app, sink))["offer"]
    past = utcnow() - timedelta(seconds=1)
    await session.execute(
        update(Subscription)
        .where(Subscription.id == uuid.UUID(first))
        .values(offer_expires_at=past)
    )
    held = (
        await client.get(f"/booking/v1/waitlist/{first}/offer", params={"token": late[1]})
    ).json()
    await session.execute(
        update(Booking)
        .where(Booking.id == uuid.UUID(held["booking"]["id"]))
        .values(hold_expires_at=past)
    )
    await session.execute(
        update(SlotClaim)
        .where(SlotClaim.booking_id == uuid.UUID(held["booking"]["id"]))
        .values(expires_at=past)
    )

    handed = await hand_on_lapsed_offers(
        app.state.database, app.state.booking_desk, app.state.waitlist_desk
    )
    again = await hand_on_lapsed_offers(
        app.state.database, app.state.booking_desk, app.state.waitlist_desk
    )
    too_late = await client.post(f"/booking/v1/waitlist/{first}/offer", json={"token": late[1]})
    offer = await offer_mail(app, sink, "eva@example.org")
    subscription_id, token = links(offer)["offer"]
    accepted = await client.post(
        f"/booking/v1/waitlist/{subscription_id}/offer", json={"token": token}
    )
    first_now = await client.get(
        f"/booking/v1/waitlist/{first}", params={"token": links(offer)["unsubscribe"][1]}
    )

    assert (handed, again) == (1, 0)
    assert too_late.status_code == 409
    assert subscription_id == second
    assert accepted.json()["status"] == "confirmed", accepted.text
    assert accepted.json()["starts_at"] == start.isoformat().replace("+00:00", "Z")
    assert first_now.status_code == 404  # Eva's link says nothing about Max's subscription


async def test_an_address_may_wait_for_so_many_at_a_time(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    office, service = await office_and_service(session)
    answers = [await subscribe(client, service, office, days=(3, 3 + n)) for n in range(4)]

    assert [a.status_code for a in answers] == [201, 201, 201, 409]
    assert answers[3].headers["content-type"] == "application/problem+json"
    assert answers[3].json()["type"] == "urn:rathaus:problem:waitlist-limit-reached"
    other = await subscribe(
        client, service, office, who={"name": "Eva", "email": "eva@example.org"}
    )
    assert other.status_code == 201


async def test_bad_waitlist_input_is_a_problem(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    office, service = await office_and_service(session)
    elsewhere = await create_office(session, tenant="06999002")
    answers = {
        "past": await subscribe(client, service, office, days=(-5, -1)),
        "reversed": await subscribe(client, service, office, days=(5, 3)),
        "too long": await subscribe(client, service, office, days=(1, 200)),
        "unknown service": await client.post(
            f"/booking/v1/tenants/{TENANT}/waitlist",
            json={
                "service_id": str(uuid.uuid4()),
                "first_day": local_day(1).isoformat(),
                "last_day": local_day(2).isoformat(),
                **WAITER,
            },
        ),
        "foreign office": await subscribe(client, service, elsewhere),
        "bad address": await subscribe(client, service, office, who={"name": "X", "email": "x@"}),
        "unknown link": await client.get(
            f"/booking/v1/waitlist/{uuid.uuid4()}", params={"token": "x" * 20}
        ),
    }
    expected = {
        "past": (422, "waitlist-days-invalid"),
        "reversed": (422, "waitlist-days-invalid"),
        "too long": (422, "waitlist-days-invalid"),
        "unknown service": (404, "service-not-found"),
        "foreign office": (404, "office-not-found"),
        "bad address": (422, "validation-failed"),
        "unknown link": (404, "waitlist-subscription-not-found"),
    }
    for case, answer in answers.items():
        assert answer.headers["content-type"] == "application/problem+json", case
        assert (answer.status_code, answer.json()["type"].rsplit(":", 1)[1]) == expected[case], case


async def test_an_erased_citizen_leaves_the_waitlist_and_it_keeps_nothing_of_them(
    client: httpx.AsyncClient,
    session: AsyncSession,
    app: FastAPI,
    sink: tuple[MailSink, int],
    tokens: TokenFactory,
) -> None:
    office, service = await office_and_service(session)
    booked = await book(client, office, service, start=at(local_day(3), 9))
    subscription_id = await waiting(client, app, sink, service, office)

    erased = await client.post(
        f"/booking/v1/tenants/{TENANT}/erasures",
        json={"email": WAITER["email"].upper()},
        headers=tokens.headers(**ADMIN),
    )
    await cancel(client, booked)
    row = await session.get(Subscription, uuid.UUID(subscription_id), populate_existing=True)

    assert erased.status_code == 200, erased.text
    assert row is not None
    assert (row.status, row.email, row.name) == ("ended", None, None)
    offers = [m for m in to(await delivered(app, sink), WAITER["email"]) if "offer" in links(m)]
    assert offers == []
