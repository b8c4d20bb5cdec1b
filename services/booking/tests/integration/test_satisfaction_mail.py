"""After a completed visit, one mail asks for feedback where the municipality wants it; its
link leads to the existing feedback."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import cast
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from booking.bookings.models import Booking
from servicekit.mail.sink import MailSink
from servicekit.testing.tokens import TokenFactory

from ..factories import (
    OTHER_TENANT,
    PORTAL_URL,
    TENANT,
    add_staff,
    at,
    book,
    local_day,
    office_with_service,
)
from .test_mails import delivered

FEEDBACK_LINK = re.compile(
    re.escape(PORTAL_URL) + r"/bookings/[0-9a-f-]{36}/feedback#token=[A-Za-z0-9_-]+"
)


@pytest.mark.parametrize(("tenant", "asked"), [(OTHER_TENANT, True), (TENANT, False)])
async def test_a_completed_visit_asks_once_for_feedback_where_the_municipality_wants_it(
    client: httpx.AsyncClient,
    session: AsyncSession,
    app: FastAPI,
    sink: tuple[MailSink, int],
    tokens: TokenFactory,
    tenant: str,
    asked: bool,
) -> None:
    office, service = await office_with_service(session, tenant)
    await add_staff(session, office, "clerk-1")
    clerk = tokens.headers(sub="clerk-1", tenant=tenant, roles=["clerk"])
    booking = await book(client, office, service, start=at(local_day(2), 9))
    now = datetime.now(UTC).replace(microsecond=0)
    await session.execute(
        update(Booking)
        .where(Booking.id == uuid.UUID(booking["id"]))
        .values(starts_at=now - timedelta(minutes=1), ends_at=now + timedelta(minutes=19))
    )
    manage = {"X-Manage-Token": booking["manage_token"]}
    checked_in = await client.post(f"/booking/v1/bookings/{booking['id']}/check-in", headers=manage)
    called = await client.post(
        f"/booking/v1/tenants/{tenant}/offices/{office.id}/queue/call",
        json={"counter": "2"},
        headers=clerk,
    )
    done = await client.post(
        f"/booking/v1/bookings/{booking['id']}/complete", json={"resolved": True}, headers=clerk
    )
    mails = await delivered(app, sink)

    assert [r.status_code for r in (checked_in, called, done)] == [200, 200, 200]
    if not asked:
        assert len(mails) == 1  # the confirmation only
        return
    _, satisfaction = mails
    assert satisfaction.get_content_type() == "multipart/alternative"
    text, html = (cast(EmailMessage, part).get_content() for part in satisfaction.iter_parts())
    [link] = set(FEEDBACK_LINK.findall(text))
    assert f'href="{link}"' in html
    url = urlsplit(link)
    token = url.fragment.removeprefix("token=")
    rated = await client.post(
        f"/booking/v1/bookings/{url.path.split('/')[-2]}/feedback",
        json={"rating": 4},
        headers={"X-Manage-Token": token},
    )
    assert rated.status_code == 200, rated.text
    assert rated.json()["rating"] == 4
