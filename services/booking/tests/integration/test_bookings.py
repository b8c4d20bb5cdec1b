from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import icalendar
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from booking.bookings.models import Booking, SlotClaim
from booking.bookings.schemas import HoldIn
from booking.catalogue.models import Service
from booking.idempotency.models import IdempotencyRecord
from booking.idempotency.service import caller_key, fingerprint
from booking.offices.models import Office
from servicekit.idempotency import key_hash
from servicekit.testing.tokens import TokenFactory

from ..factories import (
    CONTACT,
    OTHER_TENANT,
    TENANT,
    add_staff,
    at,
    book,
    create_office,
    create_service,
    hold,
    hold_body,
    local_day,
    open_every_day,
)


async def office_with_service(
    session: AsyncSession, *, counters: int = 1, tenant: str = TENANT
) -> tuple[Office, Service]:
    service = await create_service(session, tenant=tenant, duration_minutes=20)
    office = await create_office(session, service, tenant=tenant, counters=counters)
    await open_every_day(session, office)
    return office, service


async def test_hold_then_confirm_gives_a_booking_with_code_and_checklist(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    service = await create_service(session, documents=[("Reisepass", True), ("Foto", False)])
    office = await create_office(session, service)
    await open_every_day(session, office)
    start = at(local_day(3), 9)

    held = await hold(client, office, service, start=start)

    assert held.status_code == 201, held.text
    body = held.json()
    assert body["status"] == "held"
    assert len(body["manage_token"]) >= 40
    assert datetime.fromisoformat(body["hold_expires_at"]) > datetime.now(UTC)
    assert datetime.fromisoformat(body["ends_at"]) - start == timedelta(minutes=20)
    stored = await session.scalar(
        select(Booking.manage_token_hash).where(Booking.id == uuid.UUID(body["id"]))
    )
    assert stored is not None
    assert body["manage_token"] not in stored

    confirmed = await client.post(
        f"/booking/v1/bookings/{body['id']}/confirm",
        json=CONTACT,
        headers={"X-Manage-Token": body["manage_token"]},
    )

    assert confirmed.status_code == 200, confirmed.text
    booking = confirmed.json()
    assert booking["status"] == "confirmed"
    assert booking["hold_expires_at"] is None
    assert booking["contact"]["email"] == "erika@example.org"
    assert len(booking["code"]) == 9
    assert [(c["name"], c["mandatory"]) for c in booking["checklist"]] == [
        ("Reisepass", True),
        ("Foto", False),
    ]
    assert "manage_token" not in booking


async def test_second_hold_on_full_slot_gets_409(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    office, service = await office_with_service(session)
    start = at(local_day(3), 9)
    assert (await hold(client, office, service, start=start)).status_code == 201

    second = await hold(client, office, service, start=start)
    overlapping = await hold(client, office, service, start=start + timedelta(minutes=10))

    assert second.status_code == 409
    assert second.headers["content-type"] == "application/problem+json"
    assert second.json()["type"] == "urn:rathaus:problem:slot-taken"
    assert overlapping.status_code == 409


async def test_full_slot_disappears_from_availability(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    office, service = await office_with_service(session)
    day = local_day(3)
    await book(client, office, service, start=at(day, 9))

    slots = await client.get(
        f"/booking/v1/tenants/{TENANT}/availability/slots",
        params={"service_id": str(service.id), "date": day.isoformat()},
    )

    starts = {datetime.fromisoformat(s["start"]) for s in slots.json()["slots"]}
    assert at(day, 9) not in starts
    assert at(day, 8, 50) not in starts  # would overlap 09:00-09:20
    assert at(day, 8, 40) in starts  # half-open: ends exactly at 09:00
    assert at(day, 9, 20) in starts


async def test_start_outside_opening_hours_or_off_grid_is_422(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    office, service = await office_with_service(session)
    day = local_day(3)

    closed = await hold(client, office, service, start=at(day, 18))
    off_grid = await hold(client, office, service, start=at(day, 9, 5))
    past = await hold(client, office, service, start=at(local_day(-1), 9))
    too_late = await hold(client, office, service, start=at(local_day(61), 9))

    for response in (closed, off_grid, past, too_late):
        assert response.status_code == 422
        assert response.json()["type"] == "urn:rathaus:problem:slot-not-offered"


@pytest.mark.usefixtures("no_full_slot_memory")
async def test_expired_hold_frees_the_slot_without_any_job(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    office, service = await office_with_service(session)
    start = at(local_day(3), 9)
    first = (await hold(client, office, service, start=start)).json()
    past = datetime.now(UTC) - timedelta(seconds=1)
    await session.execute(update(SlotClaim).values(expires_at=past))
    await session.execute(update(Booking).values(hold_expires_at=past))

    second = await hold(client, office, service, start=start)
    late_confirm = await client.post(
        f"/booking/v1/bookings/{first['id']}/confirm",
        json=CONTACT,
        headers={"X-Manage-Token": first["manage_token"]},
    )

    assert second.status_code == 201
    assert late_confirm.status_code == 409
    assert late_confirm.json()["type"] == "urn:rathaus:problem:hold-expired"
    expired = await client.get(
        f"/booking/v1/bookings/{first['id']}", headers={"X-Manage-Token": first["manage_token"]}
    )
    assert expired.json()["status"] == "expired"


async def test_cancel_frees_the_slot_and_is_repeatable(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    office, service = await office_with_service(session)
    start = at(local_day(3), 9)
    booking = await book(client, office, service, start=start)
    headers = {"X-Manage-Token": booking["manage_token"]}

    cancelled = await client.post(f"/booking/v1/bookings/{booking['id']}/cancel", headers=headers)
    again = await client.post(f"/booking/v1/bookings/{booking['id']}/cancel", headers=headers)

    assert cancelled.json()["status"] == "cancelled"
    assert again.status_code == 200
    assert (await hold(client, office, service, start=start)).status_code == 201


async def test_reschedule_moves_the_booking_and_frees_the_old_slot(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    office, service = await office_with_service(session)
    day = local_day(3)
    booking = await book(client, office, service, start=at(day, 9))

    moved = await client.post(
        f"/booking/v1/bookings/{booking['id']}/reschedule",
        json={"start": at(day, 9, 10).isoformat()},
        headers={"X-Manage-Token": booking["manage_token"]},
    )

    assert moved.status_code == 200, moved.text
    assert datetime.fromisoformat(moved.json()["starts_at"]) == at(day, 9, 10)
    assert moved.json()["code"] == booking["code"]
    units = (
        await session.scalars(
            select(SlotClaim.unit_start).where(SlotClaim.booking_id == uuid.UUID(booking["id"]))
        )
    ).all()
    assert sorted(u.astimezone(UTC) for u in units) == [at(day, 9, 10), at(day, 9, 20)]
    assert (await hold(client, office, service, start=at(day, 8, 50))).status_code == 201


async def test_reschedule_into_a_full_slot_is_409_and_changes_nothing(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    office, service = await office_with_service(session)
    day = local_day(3)
    mine = await book(client, office, service, start=at(day, 9))
    await book(
        client, office, service, start=at(day, 10), contact={"name": "B", "email": "b@example.org"}
    )

    moved = await client.post(
        f"/booking/v1/bookings/{mine['id']}/reschedule",
        json={"start": at(day, 10).isoformat()},
        headers={"X-Manage-Token": mine["manage_token"]},
    )

    assert moved.status_code == 409
    assert moved.json()["type"] == "urn:rathaus:problem:slot-taken"
    still = await client.get(
        f"/booking/v1/bookings/{mine['id']}", headers={"X-Manage-Token": mine["manage_token"]}
    )
    assert datetime.fromisoformat(still.json()["starts_at"]) == at(day, 9)
    claims = await session.scalar(
        select(func.count())
        .select_from(SlotClaim)
        .where(SlotClaim.booking_id == uuid.UUID(mine["id"]))
    )
    assert claims == 2


async def test_open_bookings_per_email_and_service_are_capped(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    office, service = await office_with_service(session, counters=5)
    day = local_day(3)
    await book(client, office, service, start=at(day, 9))
    await book(
        client,
        office,
        service,
        start=at(day, 10),
        contact={**CONTACT, "email": "ERIKA@example.org"},
    )
    third = (await hold(client, office, service, start=at(day, 11))).json()

    response = await client.post(
        f"/booking/v1/bookings/{third['id']}/confirm",
        json=CONTACT,
        headers={"X-Manage-Token": third["manage_token"]},
    )

    assert response.status_code == 409
    assert response.json()["type"] == "urn:rathaus:problem:booking-limit-reached"


async def test_citizen_account_owns_its_booking_and_others_get_404(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    office, service = await office_with_service(session)
    erika = tokens.headers(sub="citizen-erika", tenant=TENANT, roles=["citizen"])
    max_ = tokens.headers(sub="citizen-max", tenant=TENANT, roles=["citizen"])
    foreign = tokens.headers(sub="citizen-erika", tenant=OTHER_TENANT, roles=["citizen"])
    held = (await hold(client, office, service, start=at(local_day(3), 9), headers=erika)).json()
    url = f"/booking/v1/bookings/{held['id']}"

    confirmed = await client.post(f"{url}/confirm", json=CONTACT, headers=erika)

    assert confirmed.status_code == 200
    assert (await client.get(url, headers=erika)).status_code == 200
    mine = await client.get("/booking/v1/bookings", headers=erika)
    assert [b["id"] for b in mine.json()["items"]] == [held["id"]]
    for headers in (max_, foreign, {}, {"X-Manage-Token": "wrong"}):
        response = await client.get(url, headers=headers)
        assert response.status_code == 404
        assert response.json()["type"] == "urn:rathaus:problem:booking-not-found"
        assert (await client.post(f"{url}/cancel", headers=headers)).status_code == 404
        assert (await client.get(f"{url}/checklist", headers=headers)).status_code == 404


async def test_clerks_see_their_offices_day_and_checklists_others_do_not(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    office, service = await office_with_service(session)
    other_office = await create_office(session, service, name="Anderes Büro")
    await add_staff(session, office, "clerk-1")
    await add_staff(session, other_office, "clerk-2")
    day = local_day(3)
    booking = await book(client, office, service, start=at(day, 9))
    clerk = tokens.headers(sub="clerk-1", tenant=TENANT, roles=["clerk"])
    stranger = tokens.headers(sub="clerk-2", tenant=TENANT, roles=["clerk"])
    admin = tokens.headers(sub="admin-1", tenant=TENANT, roles=["admin"])
    foreign_admin = tokens.headers(sub="admin-1", tenant=OTHER_TENANT, roles=["admin"])
    day_url = f"/booking/v1/tenants/{TENANT}/offices/{office.id}/appointments"

    seen = await client.get(day_url, params={"date": day.isoformat()}, headers=clerk)
    by_admin = await client.get(day_url, params={"date": day.isoformat()}, headers=admin)
    by_stranger = await client.get(day_url, params={"date": day.isoformat()}, headers=stranger)
    by_foreign = await client.get(day_url, params={"date": day.isoformat()}, headers=foreign_admin)

    assert seen.status_code == 200
    assert [(b["code"], b["contact"]["name"]) for b in seen.json()["items"]] == [
        (booking["code"], "Erika Mustermann")
    ]
    assert by_admin.status_code == 200
    assert by_stranger.status_code == 403
    assert by_foreign.status_code == 403
    checklist_url = f"/booking/v1/bookings/{booking['id']}/checklist"
    checklist = await client.get(checklist_url, headers=clerk)
    assert checklist.status_code == 200
    assert [i["name"] for i in checklist.json()["items"]] == ["Reisepass", "Lichtbild"]
    assert checklist.json()["items"][0]["id"]
    assert (await client.get(checklist_url, headers=stranger)).status_code == 404
    assert (await client.get(checklist_url, headers=foreign_admin)).status_code == 404
    by_token = await client.get(
        checklist_url,
        headers={"X-Manage-Token": booking["manage_token"], "Accept-Language": "en"},
    )
    assert [i["name"] for i in by_token.json()["items"]] == ["Reisepass (en)", "Lichtbild (en)"]


async def test_icalendar_file_parses_and_round_trips_its_times(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    office, service = await office_with_service(session)
    start = at(local_day(3), 9)
    booking = await book(client, office, service, start=start)

    response = await client.get(
        f"/booking/v1/bookings/{booking['id']}/calendar.ics",
        headers={"X-Manage-Token": booking["manage_token"]},
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(response.content)
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 1
    event = events[0]
    assert event.decoded("dtstart") == start
    assert event.decoded("dtend") == start + timedelta(minutes=20)
    assert (
        event.decoded("dtstart").tzinfo == ZoneInfo("Europe/Berlin")
        or str(event["dtstart"].params["TZID"]) == "Europe/Berlin"
    )
    assert "Marktplatz 1" in str(event["location"])
    assert booking["code"] in str(event["description"])
    assert "Reisepass" in str(event["description"])
    assert str(event["status"]) == "CONFIRMED"
    assert list(calendar.walk("VTIMEZONE"))


async def test_hold_with_idempotency_key_replays_and_rejects_a_changed_body(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    office, service = await office_with_service(session, counters=3)
    day = local_day(3)
    erika = {
        **tokens.headers(sub="citizen-erika", tenant=TENANT, roles=["citizen"]),
        "Idempotency-Key": "b1c4a0a2-5f38-4a4e-8f6a-3f1d2c9e0a01",
    }
    url = f"/booking/v1/tenants/{TENANT}/holds"
    body = hold_body(office, service, start=at(day, 9))

    first = await client.post(url, json=body, headers=erika)
    replay = await client.post(url, json=body, headers=erika)
    changed = await client.post(
        url,
        json=hold_body(office, service, start=at(day, 10)),
        headers=erika,
    )
    max_ = {
        **tokens.headers(sub="citizen-max", tenant=TENANT, roles=["citizen"]),
        "Idempotency-Key": erika["Idempotency-Key"],
    }
    other_caller = await client.post(url, json=body, headers=max_)

    assert first.status_code == 201
    assert replay.status_code == 201
    assert replay.json() == first.json()
    assert replay.headers["idempotent-replayed"] == "true"
    assert changed.status_code == 422
    assert changed.json()["type"] == "urn:rathaus:problem:idempotency-key-reused"
    assert other_caller.status_code == 201
    assert other_caller.json()["id"] != first.json()["id"]
    count = await session.scalar(select(func.count()).select_from(Booking))
    assert count == 2
    stored = (await session.scalars(select(IdempotencyRecord))).all()
    assert all(first.json()["manage_token"] not in str(r.response) for r in stored)
    assert all(erika["Idempotency-Key"] not in r.key for r in stored)


@pytest.mark.usefixtures("no_full_slot_memory")
async def test_failed_request_forgets_its_idempotency_key(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    office, service = await office_with_service(session)
    start = at(local_day(3), 9)
    await hold(client, office, service, start=start)
    headers = {"Idempotency-Key": "c2d5b1b3-6049-4b5f-9a7b-4a2e3d0f1b12"}
    url = f"/booking/v1/tenants/{TENANT}/holds"
    body = hold_body(office, service, start=start)

    lost = await client.post(url, json=body, headers=headers)
    await session.execute(update(SlotClaim).values(expires_at=datetime.now(UTC)))
    retried = await client.post(url, json=body, headers=headers)

    assert lost.status_code == 409
    assert retried.status_code == 201


async def test_idempotent_confirm_replays_the_confirmation(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    office, service = await office_with_service(session)
    held = (await hold(client, office, service, start=at(local_day(3), 9))).json()
    headers = {
        "X-Manage-Token": held["manage_token"],
        "Idempotency-Key": "d3e6c2c4-715a-4c60-8b8c-5b3f4e1a2c23",
    }
    url = f"/booking/v1/bookings/{held['id']}/confirm"

    first = await client.post(url, json=CONTACT, headers=headers)
    again = await client.post(url, json=CONTACT, headers=headers)
    without_key = await client.post(
        url, json=CONTACT, headers={"X-Manage-Token": held["manage_token"]}
    )

    assert first.status_code == 200
    assert again.status_code == 200
    assert again.json() == first.json()
    assert without_key.status_code == 409
    assert without_key.json()["type"] == "urn:rathaus:problem:booking-not-held"


async def test_duplicate_while_the_first_request_runs_gets_409(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    office, service = await office_with_service(session)
    body = hold_body(office, service, start=at(local_day(3), 9))
    path = f"/booking/v1/tenants/{TENANT}/holds"
    key = "f5a8e4e6-937c-4e82-8dae-7d5a6a3c4e45"
    session.add(
        IdempotencyRecord(
            caller=caller_key(None, "127.0.0.1"),
            key=key_hash(key),
            request_hash=fingerprint("POST", path, HoldIn.model_validate(body)),
            started_at=datetime.now(UTC),
        )
    )
    await session.flush()

    response = await client.post(path, json=body, headers={"Idempotency-Key": key})

    assert response.status_code == 409
    assert response.json()["type"] == "urn:rathaus:problem:idempotent-request-in-progress"
    assert await session.scalar(select(func.count()).select_from(Booking)) == 0


async def test_admins_see_the_whole_tenants_day_and_clerks_do_not(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    office, service = await office_with_service(session)
    second = await create_office(session, service, name="Zweites Büro")
    await open_every_day(session, second)
    day = local_day(3)
    first = await book(client, office, service, start=at(day, 10))
    other = await book(
        client, second, service, start=at(day, 9), contact={"name": "B", "email": "b@example.org"}
    )
    url = f"/booking/v1/tenants/{TENANT}/appointments"

    seen = await client.get(
        url,
        params={"date": day.isoformat()},
        headers=tokens.headers(sub="admin-1", tenant=TENANT, roles=["admin"]),
    )
    by_clerk = await client.get(
        url,
        params={"date": day.isoformat()},
        headers=tokens.headers(sub="clerk-1", tenant=TENANT, roles=["clerk"]),
    )

    assert seen.status_code == 200
    assert [b["id"] for b in seen.json()["items"]] == [other["id"], first["id"]]
    assert by_clerk.status_code == 403


async def test_start_at_the_end_of_time_is_422_not_500(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    office, service = await office_with_service(session)

    response = await client.post(
        f"/booking/v1/tenants/{TENANT}/holds",
        json={
            "office_id": str(office.id),
            "service_ids": [str(service.id)],
            "start": "9999-12-31T23:50:00Z",
        },
    )

    # Refused by the request's bounds (servicekit.datetimes) before any slot is computed.
    assert response.status_code == 422
    assert response.json()["type"] == "urn:rathaus:problem:validation-failed"


async def test_an_account_keeps_only_a_few_live_holds(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    office, service = await office_with_service(session, counters=5)
    erika = tokens.headers(sub="citizen-erika", tenant=TENANT, roles=["citizen"])
    day = local_day(3)
    for hour in (8, 9, 10):
        held = await hold(client, office, service, start=at(day, hour), headers=erika)
        assert held.status_code == 201

    fourth = await hold(client, office, service, start=at(day, 11), headers=erika)
    anonymous = await hold(client, office, service, start=at(day, 11))

    assert fourth.status_code == 409
    assert fourth.json()["type"] == "urn:rathaus:problem:hold-limit-reached"
    assert anonymous.status_code == 201
