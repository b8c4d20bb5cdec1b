"""Booking's yes to handing a booking's case to a partner (asked by documents with the clerk's
token): only a clerk of the booking's office, only to a partner registered for hand-overs.
The whole hand-over, token of the partner's identity included, runs in
``tests/test_case_handover.py``."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.testing.tokens import TokenFactory

from ..factories import (
    OTHER_TENANT,
    TENANT,
    add_staff,
    at,
    book,
    local_day,
    office_with_service,
)

PARTNER = "06999002"


async def _register(
    client: httpx.AsyncClient, tokens: TokenFactory, scopes: list[str] | None
) -> None:
    body: dict[str, object] = {"name": "Nachbarstadt", "base_url": "http://127.0.0.1:9"}
    if scopes is not None:
        body["credentials"] = {
            "issuer": "http://127.0.0.1:9/identity",
            "client_id": "home",
            "client_secret": "s3cret",
            "scopes": scopes,
        }
    registered = await client.put(
        f"/booking/v1/tenants/{TENANT}/partners/{PARTNER}",
        json=body,
        headers=tokens.headers(sub="admin-1", tenant=TENANT, roles=["admin"]),
    )
    assert registered.status_code == 200, registered.text


async def test_only_a_clerk_of_the_office_gets_a_grant_for_a_partner_taking_cases(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    office, service = await office_with_service(session)
    await add_staff(session, office, "clerk-1")
    booking = await book(client, office, service, start=at(local_day(3), 10))
    url = f"/booking/v1/tenants/{TENANT}/partners/{PARTNER}/handover-grants"
    body = {"booking_id": booking["id"]}
    clerk = tokens.headers(sub="clerk-1", tenant=TENANT, roles=["clerk"])

    unknown = await client.post(url, json=body, headers=clerk)
    await _register(client, tokens, None)
    anonymous_partner = await client.post(url, json=body, headers=clerk)
    await _register(client, tokens, ["booking:search"])
    search_only = await client.post(url, json=body, headers=clerk)
    await _register(client, tokens, ["booking:search", "cases:handover"])
    other_clerk = await client.post(
        url, json=body, headers=tokens.headers(sub="clerk-2", tenant=TENANT, roles=["clerk"])
    )
    citizen = await client.post(url, json=body, headers=tokens.headers(tenant=TENANT))
    elsewhere = await client.post(
        f"/booking/v1/tenants/{OTHER_TENANT}/partners/{PARTNER}/handover-grants",
        json=body,
        headers=tokens.headers(sub="clerk-9", tenant=OTHER_TENANT, roles=["clerk"]),
    )
    unreachable_identity = await client.post(url, json=body, headers=clerk)

    assert unknown.status_code == 404
    assert unknown.json()["type"] == "urn:rathaus:problem:partner-not-found"
    for answer in (anonymous_partner, search_only):
        assert answer.status_code == 409, answer.text
        assert answer.json()["type"] == "urn:rathaus:problem:partner-takes-no-cases"
    assert other_clerk.status_code == 404
    assert other_clerk.json()["type"] == "urn:rathaus:problem:booking-not-found"
    assert citizen.status_code == 403
    assert elsewhere.status_code == 404
    assert elsewhere.json()["type"] == "urn:rathaus:problem:booking-not-found"
    # Registered for cases, but the partner's identity does not answer: 503, try again.
    assert unreachable_identity.status_code == 503, unreachable_identity.text
    assert unreachable_identity.json()["type"] == "urn:rathaus:problem:partner-token-unavailable"
    assert unreachable_identity.headers["retry-after"] == "30"
