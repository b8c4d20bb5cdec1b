"""Dates and times at the edges of Python's calendar are a 422 problem, never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.testing.tokens import TokenFactory

from ..factories import TENANT, at, book, local_day, office_with_service

OUT_OF_RANGE_DATETIMES = [
    "0001-01-01T00:00:00+23:59",
    "9999-12-31T23:59:59-23:59",
    "9999-12-31T12:00:00+00:00",
    "1969-12-31T23:00:00+00:00",
]
OUT_OF_RANGE_DATES = ["0001-01-01", "9999-12-31", "2200-01-01", "1969-12-31"]


def assert_invalid(response: httpx.Response, name: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "urn:rathaus:problem:validation-failed"
    assert any(name in param["name"] for param in problem["invalid_params"]), problem


@pytest.mark.parametrize("moment", OUT_OF_RANGE_DATETIMES)
async def test_hold_reschedule_and_closure_refuse_out_of_range_moments(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory, moment: str
) -> None:
    office, service = await office_with_service(session)
    booking = await book(client, office, service, start=at(local_day(3), 9))
    admin = tokens.headers(sub="admin-1", tenant=TENANT, roles=["admin"])

    held = await client.post(
        f"/booking/v1/tenants/{TENANT}/holds",
        json={"office_id": str(office.id), "service_ids": [str(service.id)], "start": moment},
    )
    assert_invalid(held, "start")
    moved = await client.post(
        f"/booking/v1/bookings/{booking['id']}/reschedule",
        json={"start": moment},
        headers={"X-Manage-Token": booking["manage_token"]},
    )
    assert_invalid(moved, "start")
    for body, name in (
        ({"starts_at": moment, "ends_at": "2030-01-01T00:00:00+00:00"}, "starts_at"),
        ({"starts_at": "2030-01-01T00:00:00+00:00", "ends_at": moment}, "ends_at"),
    ):
        closed = await client.post(
            f"/booking/v1/tenants/{TENANT}/offices/{office.id}/closures",
            json=body,
            headers=admin,
        )
        assert_invalid(closed, name)


@pytest.mark.parametrize("day", OUT_OF_RANGE_DATES)
async def test_day_views_kpis_holidays_and_hours_refuse_out_of_range_days(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory, day: str
) -> None:
    office, service = await office_with_service(session)
    admin = tokens.headers(sub="admin-1", tenant=TENANT, roles=["admin"])
    base = f"/booking/v1/tenants/{TENANT}"
    requests: list[tuple[str, str, dict[str, Any], str]] = [
        ("GET", f"{base}/offices/{office.id}/appointments", {"params": {"date": day}}, "date"),
        ("GET", f"{base}/appointments", {"params": {"date": day}}, "date"),
        ("GET", f"{base}/kpis", {"params": {"from": day, "to": "2030-01-01"}}, "from"),
        ("GET", f"{base}/kpis", {"params": {"from": "2026-01-01", "to": day}}, "to"),
        (
            "GET",
            f"{base}/availability/slots",
            {"params": {"date": day, "service_id": str(service.id)}},
            "date",
        ),
        ("PUT", f"{base}/holidays/{day}", {"json": {"name": "Stadtfest"}}, "day"),
        ("DELETE", f"{base}/holidays/{day}", {}, "day"),
        (
            "PUT",
            f"{base}/offices/{office.id}/opening-hours",
            {
                "json": {
                    "rules": [
                        {"weekday": 1, "opens": "08:00", "closes": "12:00", "valid_from": day}
                    ]
                }
            },
            "valid_from",
        ),
        (
            "POST",
            f"{base}/waitlist",
            {
                "json": {
                    "service_id": str(service.id),
                    "first_day": day,
                    "last_day": "2030-01-01",
                    "name": "Erika",
                    "email": "erika@example.org",
                }
            },
            "first_day",
        ),
    ]
    for method, url, options, name in requests:
        response = await client.request(method, url, headers=admin, **options)
        assert_invalid(response, name)
