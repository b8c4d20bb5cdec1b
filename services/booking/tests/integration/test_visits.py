"""The day of an appointment: check-in, the office's queue, the outcome, the rating, the KPIs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from booking.bookings.models import Booking, SlotClaim
from booking.catalogue.models import Service
from booking.offices.models import Office
from booking.visits.models import Visit
from servicekit.testing.tokens import TokenFactory

from ..factories import (
    OTHER_TENANT,
    TENANT,
    add_staff,
    at,
    book,
    create_office,
    create_service,
    hold,
    local_day,
    open_every_day,
)


async def office_with_service(session: AsyncSession) -> tuple[Office, Service]:
    service = await create_service(session, duration_minutes=20)
    office = await create_office(session, service, counters=3)
    await open_every_day(session, office)
    await add_staff(session, office, "clerk-1")
    return office, service


async def move(session: AsyncSession, booking_id: str, starts_at: datetime) -> None:
    """Put an appointment at ``starts_at`` (20 minutes long), as if it had been booked there."""
    await session.execute(
        update(Booking)
        .where(Booking.id == uuid.UUID(booking_id))
        .values(starts_at=starts_at, ends_at=starts_at + timedelta(minutes=20))
    )


async def booked_now(
    client: httpx.AsyncClient, session: AsyncSession, office: Office, service: Service, count: int
) -> list[dict[str, Any]]:
    """``count`` confirmed bookings whose appointments begin now, a second apart, in order."""
    now = datetime.now(UTC).replace(microsecond=0)
    bookings = []
    for n in range(count):
        booking = await book(
            client, office, service, start=at(local_day(2), 8, 20 * n), contact=contact(n)
        )
        await move(session, booking["id"], now - timedelta(seconds=count - n))
        bookings.append(booking)
    return bookings


def contact(n: int) -> dict[str, str]:
    """Contact data of a citizen of its own (the open-booking cap counts per address)."""
    return {"name": f"Citizen {n}", "email": f"citizen-{n}@example.org"}


def manage(booking: dict[str, Any]) -> dict[str, str]:
    return {"X-Manage-Token": booking["manage_token"]}


def problem_type(response: httpx.Response) -> str:
    assert response.headers["content-type"] == "application/problem+json", response.text
    kind: str = response.json()["type"]
    return kind.removeprefix("urn:rathaus:problem:")


async def test_citizens_check_in_and_wait_in_the_order_of_their_appointments(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    office, service = await office_with_service(session)
    first, second, third = await booked_now(client, session, office, service, 3)
    clerk = tokens.headers(sub="clerk-1", tenant=TENANT, roles=["clerk"])

    # The latest appointment checks in first: it still waits behind the earlier ones.
    for booking in (third, first, second):
        response = await client.post(
            f"/booking/v1/bookings/{booking['id']}/check-in", headers=manage(booking)
        )
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "waiting"
    again = await client.post(f"/booking/v1/bookings/{third['id']}/check-in", headers=manage(third))
    queue = await client.get(
        f"/booking/v1/tenants/{TENANT}/offices/{office.id}/queue", headers=clerk
    )

    assert again.status_code == 200
    assert again.json()["waiting_ahead"] == 2
    assert again.json()["code"] == third["code"]
    assert queue.status_code == 200, queue.text
    waiting = queue.json()["waiting"]
    assert [v["booking_id"] for v in waiting] == [first["id"], second["id"], third["id"]]
    assert [v["waiting_ahead"] for v in waiting] == [0, 1, 2]
    assert queue.json()["called"] == []
    # The repeated check-in kept the first check-in's time.
    assert waiting[2]["checked_in_at"] == again.json()["checked_in_at"]


async def test_check_in_needs_a_confirmed_booking_of_the_caller_at_its_time(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    office, service = await office_with_service(session)
    later = await book(client, office, service, start=at(local_day(2), 9), contact=contact(7))
    (now,) = await booked_now(client, session, office, service, 1)
    held = (await hold(client, office, service, start=at(local_day(2), 10))).json()
    await move(session, held["id"], datetime.now(UTC))
    over = await book(client, office, service, start=at(local_day(2), 11), contact=contact(8))
    await move(session, over["id"], datetime.now(UTC) - timedelta(minutes=30))
    url = "/booking/v1/bookings/{}/check-in"

    too_early = await client.post(url.format(later["id"]), headers=manage(later))
    too_late = await client.post(url.format(over["id"]), headers=manage(over))
    unconfirmed = await client.post(url.format(held["id"]), headers=manage(held))
    strangers = [
        await client.post(url.format(now["id"]), headers=headers)
        for headers in (
            {"X-Manage-Token": later["manage_token"]},
            tokens.headers(sub="citizen-max", tenant=TENANT, roles=["citizen"]),
            tokens.headers(sub="clerk-2", tenant=TENANT, roles=["clerk"]),
            tokens.headers(sub="admin-1", tenant=OTHER_TENANT, roles=["admin"]),
        )
    ]
    by_clerk = await client.post(
        url.format(now["id"]), headers=tokens.headers(sub="clerk-1", tenant=TENANT, roles=["clerk"])
    )

    assert too_early.status_code == 409
    assert problem_type(too_early) == "check-in-closed"
    assert too_late.status_code == 409
    assert problem_type(too_late) == "check-in-closed"
    assert unconfirmed.status_code == 409
    assert problem_type(unconfirmed) == "check-in-needs-confirmation"
    assert [r.status_code for r in strangers] == [404] * 4
    assert {problem_type(r) for r in strangers} == {"booking-not-found"}
    nobody = await client.post(url.format(now["id"]))
    assert (nobody.status_code, problem_type(nobody)) == (401, "invalid-token")
    # A clerk of the office checks a citizen in at the desk.
    assert by_clerk.status_code == 200, by_clerk.text
    assert by_clerk.json()["status"] == "waiting"
    # Checked in for an appointment in half an hour, then cancelled: out of the queue, and
    # no second check-in.
    soon = await book(client, office, service, start=at(local_day(2), 10, 20), contact=contact(9))
    await move(session, soon["id"], datetime.now(UTC) + timedelta(minutes=30))
    checked_in = await client.post(url.format(soon["id"]), headers=manage(soon))
    assert checked_in.status_code == 200, checked_in.text
    cancelled = await client.post(f"/booking/v1/bookings/{soon['id']}/cancel", headers=manage(soon))
    assert cancelled.status_code == 200, cancelled.text
    again = await client.post(url.format(soon["id"]), headers=manage(soon))
    assert problem_type(again) == "check-in-needs-confirmation"
    queue = await client.get(
        f"/booking/v1/tenants/{TENANT}/offices/{office.id}/queue",
        headers=tokens.headers(sub="clerk-1", tenant=TENANT, roles=["clerk"]),
    )
    assert [v["booking_id"] for v in queue.json()["waiting"]] == [now["id"]]


async def test_clerks_call_complete_and_citizens_rate_each_step_once(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    office, service = await office_with_service(session)
    other_office = await create_office(session, service, name="Anderes Büro")
    await add_staff(session, other_office, "clerk-2")
    first, second = await booked_now(client, session, office, service, 2)
    for booking in (first, second):
        checked_in = await client.post(
            f"/booking/v1/bookings/{booking['id']}/check-in", headers=manage(booking)
        )
        assert checked_in.status_code == 200
    clerk = tokens.headers(sub="clerk-1", tenant=TENANT, roles=["clerk"])
    stranger = tokens.headers(sub="clerk-2", tenant=TENANT, roles=["clerk"])
    citizen = tokens.headers(sub="citizen-erika", tenant=TENANT, roles=["citizen"])
    queue_url = f"/booking/v1/tenants/{TENANT}/offices/{office.id}/queue"

    # The waiting room's display needs no token, and shows codes, not names.
    board = await client.get(f"{queue_url}/board")
    assert board.status_code == 200, board.text
    assert board.json()["waiting"] == 2
    assert board.json()["calls"] == []
    unknown = await client.get(f"/booking/v1/tenants/{TENANT}/offices/{uuid.uuid4()}/queue/board")
    assert problem_type(unknown) == "office-not-found"
    # Only the office's clerks see and call its queue.
    assert problem_type(await client.get(queue_url, headers=stranger)) == "not-office-staff"
    assert problem_type(await client.get(queue_url, headers=citizen)) == "not-staff"
    refused = await client.post(f"{queue_url}/call", json={"counter": "1"}, headers=stranger)
    assert refused.status_code == 403
    called = await client.post(f"{queue_url}/call", json={"counter": " 3 "}, headers=clerk)
    assert called.status_code == 200, called.text
    assert called.json()["booking_id"] == first["id"]
    assert called.json()["status"] == "called"
    assert called.json()["counter"] == "3"
    queue = (await client.get(queue_url, headers=clerk)).json()
    assert [v["booking_id"] for v in queue["waiting"]] == [second["id"]]
    assert queue["waiting"][0]["waiting_ahead"] == 0
    assert [v["booking_id"] for v in queue["called"]] == [first["id"]]
    no_counter = await client.post(f"{queue_url}/call", json={"counter": ""}, headers=clerk)
    assert no_counter.status_code == 422

    complete = "/booking/v1/bookings/{}/complete"
    not_called = await client.post(
        complete.format(second["id"]), json={"resolved": True}, headers=clerk
    )
    by_stranger = await client.post(
        complete.format(first["id"]), json={"resolved": True}, headers=stranger
    )
    by_citizen = await client.post(
        complete.format(first["id"]), json={"resolved": True}, headers=manage(first)
    )
    rated_early = await client.post(
        f"/booking/v1/bookings/{first['id']}/feedback", json={"rating": 5}, headers=manage(first)
    )
    done = await client.post(complete.format(first["id"]), json={"resolved": True}, headers=clerk)
    done_again = await client.post(
        complete.format(first["id"]), json={"resolved": False}, headers=clerk
    )

    assert problem_type(not_called) == "visit-not-called"
    assert problem_type(by_stranger) == "booking-not-found"  # not even theirs to see
    assert by_citizen.status_code == 401  # a manage link is no account
    assert problem_type(rated_early) == "visit-not-completed"
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed"
    assert done.json()["resolved"] is True
    assert problem_type(done_again) == "visit-completed"

    feedback = f"/booking/v1/bookings/{first['id']}/feedback"
    out_of_range = await client.post(feedback, json={"rating": 6}, headers=manage(first))
    by_clerk = await client.post(feedback, json={"rating": 1}, headers=clerk)
    rated = await client.post(feedback, json={"rating": 4}, headers=manage(first))
    rated_again = await client.post(feedback, json={"rating": 5}, headers=manage(first))

    assert out_of_range.status_code == 422
    assert problem_type(by_clerk) == "not-the-citizen"
    assert rated.status_code == 200, rated.text
    assert rated.json()["rating"] == 4
    assert problem_type(rated_again) == "already-rated"

    last = await client.post(f"{queue_url}/call", json={"counter": "3"}, headers=clerk)
    nobody = await client.post(f"{queue_url}/call", json={"counter": "3"}, headers=clerk)
    assert last.json()["booking_id"] == second["id"]
    assert nobody.status_code == 409
    assert problem_type(nobody) == "nobody-waiting"
    board = (await client.get(f"{queue_url}/board")).json()
    assert board["waiting"] == 0
    assert [(c["code"], c["counter"]) for c in board["calls"]] == [
        (second["code"], "3"),
        (first["code"], "3"),
    ]
    assert "Citizen" not in str(board)  # the contacts are "Citizen 0", "Citizen 1"


async def test_kpis_come_from_the_visits_of_the_period(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    office, service = await office_with_service(session)
    yesterday = local_day(-1)
    served, waited, absent = [
        await book(client, office, service, start=at(local_day(2), 8, 20 * n), contact=contact(n))
        for n in range(3)
    ]
    for booking, hour, minute in ((served, 9, 0), (waited, 9, 20), (absent, 9, 40)):
        await move(session, booking["id"], at(yesterday, hour, minute))
    session.add_all(
        [
            # Early (8:55), called 5 minutes after the start, 12 minutes at the counter.
            Visit(
                booking_id=uuid.UUID(served["id"]),
                office_id=office.id,
                checked_in_at=at(yesterday, 8, 55),
                called_at=at(yesterday, 9, 5),
                counter="1",
                called_by="clerk-1",
                completed_at=at(yesterday, 9, 17),
                resolved=True,
                rating=4,
                rated_at=at(yesterday, 10),
            ),
            # Late (9:25 for 9:20), waited 15 minutes, 10 at the counter, to come again.
            Visit(
                booking_id=uuid.UUID(waited["id"]),
                office_id=office.id,
                checked_in_at=at(yesterday, 9, 25),
                called_at=at(yesterday, 9, 40),
                counter="2",
                called_by="clerk-1",
                completed_at=at(yesterday, 9, 50),
                resolved=False,
            ),
        ]
    )
    await session.flush()
    url = f"/booking/v1/tenants/{TENANT}/kpis"
    period = {"from": yesterday.isoformat(), "to": yesterday.isoformat()}
    clerk = tokens.headers(sub="clerk-1", tenant=TENANT, roles=["clerk"])
    admin = tokens.headers(sub="admin-1", tenant=TENANT, roles=["admin"])

    by_clerk = await client.get(url, params={**period, "office_id": str(office.id)}, headers=clerk)
    by_admin = await client.get(url, params=period, headers=admin)
    clerk_of_all = await client.get(url, params=period, headers=clerk)
    backwards = await client.get(
        url, params={"from": yesterday.isoformat(), "to": local_day(-2).isoformat()}, headers=admin
    )
    too_long = await client.get(
        url, params={"from": local_day(-400).isoformat(), "to": period["to"]}, headers=admin
    )
    other_day = await client.get(
        url,
        params={"from": local_day(-3).isoformat(), "to": local_day(-2).isoformat()},
        headers=admin,
    )

    assert by_clerk.status_code == 200, by_clerk.text
    kpis = by_clerk.json()
    assert kpis["appointments"] == 3
    assert kpis["ended"] == 3
    assert kpis["checked_in"] == 2
    assert kpis["no_shows"] == 1
    assert kpis["no_show_rate"] == 0.333
    assert kpis["waiting"] == {"count": 2, "mean": 10.0, "p50": 5.0, "p90": 15.0}
    assert kpis["processing"] == {"count": 2, "mean": 11.0, "p50": 10.0, "p90": 12.0}
    assert kpis["completed"] == 2
    assert kpis["first_contact_resolution_rate"] == 0.5
    assert kpis["satisfaction"] == {"count": 1, "mean": 4.0, "p50": 4.0, "p90": 4.0}
    assert kpis["staff_minutes_saved"] == 18.0  # 20 - 12 and 20 - 10
    assert by_admin.status_code == 200
    assert {k: v for k, v in by_admin.json().items() if k != "office_id"} == {
        k: v for k, v in kpis.items() if k != "office_id"
    }
    of_service = await client.get(
        url, params={**period, "service_id": str(service.id)}, headers=admin
    )
    of_other = await client.get(
        url, params={**period, "service_id": str(uuid.uuid4())}, headers=admin
    )
    assert of_service.json()["appointments"] == 3
    assert of_service.json()["waiting"] == kpis["waiting"]
    assert of_service.json()["service_id"] == str(service.id)
    assert of_other.json()["appointments"] == 0
    assert problem_type(clerk_of_all) == "not-administrator"
    assert backwards.status_code == 422
    assert problem_type(backwards) == "invalid-period"
    assert problem_type(too_long) == "invalid-period"
    assert other_day.json()["appointments"] == 0
    assert other_day.json()["waiting"] == {"count": 0, "mean": None, "p50": None, "p90": None}


async def test_clerks_queue_walk_ins_behind_the_appointments_already_due(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    office, service = await office_with_service(session)
    (due,) = await booked_now(client, session, office, service, 1)
    checked_in = await client.post(
        f"/booking/v1/bookings/{due['id']}/check-in", headers=manage(due)
    )
    assert checked_in.status_code == 200
    clerk = tokens.headers(sub="clerk-1", tenant=TENANT, roles=["clerk"])
    url = f"/booking/v1/tenants/{TENANT}/offices/{office.id}/queue/walk-ins"

    walk_in = await client.post(
        url, json={"service_ids": [str(service.id)], "name": " Herr Weber "}, headers=clerk
    )
    by_citizen = await client.post(
        url,
        json={"service_ids": [str(service.id)]},
        headers=tokens.headers(sub="citizen-erika", tenant=TENANT, roles=["citizen"]),
    )
    unknown = await client.post(url, json={"service_ids": [str(uuid.uuid4())]}, headers=clerk)
    empty = await client.post(url, json={"service_ids": []}, headers=clerk)

    assert walk_in.status_code == 201, walk_in.text
    visit = walk_in.json()
    assert visit["walk_in"] is True
    assert visit["status"] == "waiting"
    assert visit["waiting_ahead"] == 1  # the appointment due a second ago goes first
    assert problem_type(by_citizen) == "not-staff"
    assert problem_type(unknown) == "service-not-found"
    assert empty.status_code == 422
    booking = await session.get(Booking, uuid.UUID(visit["booking_id"]))
    assert booking is not None
    assert (booking.walk_in, booking.name, booking.email) == (True, "Herr Weber", None)
    held_seats = await session.scalar(
        select(func.count()).select_from(SlotClaim).where(SlotClaim.booking_id == booking.id)
    )
    assert held_seats == 0  # the online slots stay as they were
    queue = (
        await client.get(f"/booking/v1/tenants/{TENANT}/offices/{office.id}/queue", headers=clerk)
    ).json()
    assert [v["booking_id"] for v in queue["waiting"]] == [due["id"], visit["booking_id"]]
    today = local_day(0)
    kpis = await client.get(
        f"/booking/v1/tenants/{TENANT}/kpis",
        params={"from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat()},
        headers=tokens.headers(sub="admin-1", tenant=TENANT, roles=["admin"]),
    )
    assert (kpis.json()["appointments"], kpis.json()["walk_ins"]) == (1, 1)
    assert kpis.json()["checked_in"] == 1
