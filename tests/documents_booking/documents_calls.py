"""Calls of documents' API that many of its tests make: headers of the demo roles, an upload.

Shared like ``live_booking`` (importable as ``tests.documents_booking.documents_calls``).
"""

from __future__ import annotations

from typing import Any

import httpx

from servicekit.testing.tokens import TokenFactory
from tests.documents_booking.live_booking import TENANT, Appointment

PASSPORT, PHOTO = 0, 1  # the appointment's checklist: passport, photo, then an optional item
BOOKING_EVENT_SECRET = "booking-events-secret-for-documents-tests"
"""What booking signs the events it sends documents with (in these tests)."""


def pdf(marker: bytes = b"") -> bytes:
    return b"%PDF-1.7\n" + marker + b"\n" + b"0" * 5000 + b"\n%%EOF\n"


def citizen(tokens: TokenFactory, sub: str = "citizen-1") -> dict[str, str]:
    return tokens.headers(sub=sub, tenant=TENANT, roles=["citizen"])


def clerk(tokens: TokenFactory, sub: str = "clerk-1") -> dict[str, str]:
    """clerk-1 works at the live booking's office, clerk-2 at its other office."""
    return tokens.headers(sub=sub, tenant=TENANT, roles=["clerk"])


async def upload(
    client: httpx.AsyncClient,
    tokens: TokenFactory,
    appointment: Appointment,
    item: int,
    data: bytes | None = None,
) -> dict[str, Any]:
    """citizen-1 uploads ``data`` (a small PDF) for the ``item``-th checklist item."""
    response = await client.post(
        appointment.upload_path(item),
        content=data or pdf(),
        headers=citizen(tokens),
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body
