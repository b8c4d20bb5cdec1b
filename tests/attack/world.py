"""Who and what the attacks meet: the demo municipality's people with real tokens of each role,
a second municipality, and objects that belong to somebody else, all made through the API.

Municipality A is the demo seed (06999001): the citizen Erika, a clerk staffed at the office
"Mitte", the administrator and the partner client (client credentials). Beside them another
citizen and another clerk (office "Nord"), each with their own objects, and municipality B
(06999002, made by the platform administrator) with its own administrator, office and booking.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx

from identity.seed import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from servicekit.testing.tokens import TokenFactory
from tests.documents_booking.files import pdf
from tests.documents_booking.live_booking import local_start, set_up_office
from tests.live_rathaus import ADMIN, CITIZEN, CLERK, PLATFORM_ADMIN, TENANT, System

OTHER_TENANT = "06999002"
PDF = pdf(2000)
ROLES = ("citizen", "clerk", "admin", "partner")
"""The roles every attack is made with (the platform administrator only sets the stage)."""

Headers = dict[str, str]


@dataclass
class Booked:
    """A confirmed booking and what hangs on it."""

    booking_id: str
    office_id: str
    tenant: str
    manage_token: str
    item_id: str
    document_id: str | None = None


@dataclass
class World:
    system: System
    headers: dict[str, Headers]
    """Role -> Authorization headers: the ``ROLES``, and ``other_citizen``, ``other_clerk``,
    ``other_admin`` (municipality B), ``platform_admin``."""
    subjects: dict[str, str]
    offices: dict[str, str]
    """``mitte``, ``nord`` (municipality A), ``b`` (municipality B): office ids."""
    services: dict[str, str]
    """Office key -> a service id it offers."""
    mine: Booked
    """The citizen's booking at Mitte, with a document."""
    others: dict[str, Booked] = field(default_factory=dict)
    """Bookings of somebody else: ``other_citizen`` (at Nord, with a document, by the other
    citizen), ``other_tenant`` (municipality B, by the manage link only)."""

    @property
    def gateway(self) -> str:
        return self.system.gateway


def bearer(token: str) -> Headers:
    return {"Authorization": f"Bearer {token}"}


async def login(http: httpx.AsyncClient, credentials: dict[str, str]) -> Headers:
    response = await http.post("/identity/v1/auth/login", json=credentials)
    assert response.status_code == 200, response.text
    return bearer(response.json()["access_token"])


async def partner_token(http: httpx.AsyncClient) -> Headers:
    response = await http.post(
        "/identity/v1/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
            "scope": "booking:search",
        },
    )
    assert response.status_code == 200, response.text
    return bearer(response.json()["access_token"])


async def _subject(http: httpx.AsyncClient, headers: Headers) -> str:
    me = await http.get("/identity/v1/me", headers=headers)
    assert me.status_code == 200, me.text
    return str(me.json()["id"])


async def _first_slot(http: httpx.AsyncClient, office: str, service: str) -> str:
    where = {"service_id": service, "office_id": office}
    for months_ahead in (0, 1, 2):
        month = (date.today() + timedelta(days=10 + 31 * months_ahead)).strftime("%Y-%m")
        days = await http.get(
            f"/booking/v1/tenants/{TENANT}/availability/days", params={**where, "month": month}
        )
        assert days.status_code == 200, days.text
        for day in days.json()["days"]:
            slots = await http.get(
                f"/booking/v1/tenants/{TENANT}/availability/slots",
                params={**where, "date": day["date"]},
            )
            if slots.json()["slots"]:
                return str(slots.json()["slots"][-1]["start"])
    raise AssertionError(f"no free slot at {office}")


async def book(
    http: httpx.AsyncClient,
    *,
    tenant: str,
    office: str,
    service: str,
    start: str,
    headers: Headers | None = None,
) -> Booked:
    """Hold and confirm ``start`` (as the holder of ``headers``, anonymous without)."""
    held = await http.post(
        f"/booking/v1/tenants/{tenant}/holds",
        json={"office_id": office, "service_ids": [service], "start": start},
        headers=headers or {},
    )
    assert held.status_code == 201, held.text
    token = held.json()["manage_token"]
    confirmed = await http.post(
        f"/booking/v1/bookings/{held.json()['id']}/confirm",
        json={"name": "Erika Mustermann", "email": f"e.{uuid.uuid4().hex[:12]}@example.org"},
        headers={"X-Manage-Token": token},
    )
    assert confirmed.status_code == 200, confirmed.text
    return Booked(
        booking_id=str(held.json()["id"]),
        office_id=office,
        tenant=tenant,
        manage_token=token,
        item_id=_takes_pdf(confirmed.json()["checklist"]),
    )


def _takes_pdf(checklist: list[dict[str, Any]]) -> str:
    """The first item a PDF may be handed in for: it names PDF, or no file type at all."""
    for item in checklist:
        types = [f for f in item["accepted_formats"] if "/" in f]
        if not types or "application/pdf" in types:
            return str(item["id"])
    raise AssertionError(f"no checklist item takes a PDF: {checklist}")


async def upload(http: httpx.AsyncClient, booked: Booked, headers: Headers) -> str:
    response = await http.post(
        f"/documents/v1/bookings/{booked.booking_id}/items/{booked.item_id}/documents",
        content=PDF,
        headers={**headers, "content-type": "application/pdf"},
    )
    assert response.status_code == 201, response.text
    booked.document_id = str(response.json()["id"])
    return booked.document_id


async def build_world(system: System, http: httpx.AsyncClient) -> World:
    headers: dict[str, Headers] = {
        "citizen": await login(http, CITIZEN),
        "clerk": await login(http, CLERK),
        "admin": await login(http, ADMIN),
        "platform_admin": await login(http, PLATFORM_ADMIN),
        "partner": await partner_token(http),
    }
    admin = headers["admin"]
    # Another citizen (self-registered) and another clerk of municipality A.
    other = {"tenant": TENANT, "email": "max.muster@example.org", "password": "max-password-2026"}
    registered = await http.post(
        f"/identity/v1/tenants/{TENANT}/citizens",
        json={"email": other["email"], "password": other["password"]},
    )
    assert registered.status_code == 201, registered.text
    headers["other_citizen"] = await login(http, other)
    clerk2 = {"tenant": TENANT, "email": "nord@musterstadt.example", "password": "nord-clerk-2026!"}
    created = await http.post(
        f"/identity/v1/tenants/{TENANT}/accounts",
        json={"email": clerk2["email"], "password": clerk2["password"], "roles": ["clerk"]},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    headers["other_clerk"] = await login(http, clerk2)
    # Municipality B and its administrator.
    made = await http.post(
        "/identity/v1/tenants",
        json={"ags": OTHER_TENANT, "name": "Nachbarstadt"},
        headers=headers["platform_admin"],
    )
    assert made.status_code == 201, made.text
    admin_b = {
        "tenant": OTHER_TENANT,
        "email": "admin@nachbarstadt.example",
        "password": "admin-nachbarstadt-2026!",
    }
    created = await http.post(
        f"/identity/v1/tenants/{OTHER_TENANT}/accounts",
        json={"email": admin_b["email"], "password": admin_b["password"], "roles": ["admin"]},
        headers=headers["platform_admin"],
    )
    assert created.status_code == 201, created.text
    headers["other_admin"] = await login(http, admin_b)
    subjects = {role: await _subject(http, h) for role, h in headers.items() if role != "partner"}

    listed = (await http.get(f"/booking/v1/tenants/{TENANT}/offices")).json()["items"]
    by_name = {office["name"]: office for office in listed}
    mitte, nord = by_name["Bürgerbüro Mitte"], by_name["Bürgerbüro Nord"]
    services = {
        "mitte": str(mitte["services"][0]["service_id"]),
        "nord": str(nord["services"][0]["service_id"]),
    }
    offices = {"mitte": str(mitte["id"]), "nord": str(nord["id"])}
    for key, clerk in (("mitte", "clerk"), ("nord", "other_clerk")):
        staffed = await http.put(
            f"/booking/v1/tenants/{TENANT}/offices/{offices[key]}/staff/{subjects[clerk]}",
            headers=admin,
        )
        assert staffed.status_code == 204, staffed.text
    # An ES256 key set that signs nothing: set_up_office is given real headers.
    office_b = await set_up_office(
        http,
        TokenFactory(algorithm="ES256"),
        tenant=OTHER_TENANT,
        clerk=subjects["other_admin"],
        admin=headers["other_admin"],
    )
    offices["b"], services["b"] = office_b.office_id, office_b.service_id

    mine = await book(
        http,
        tenant=TENANT,
        office=offices["mitte"],
        service=services["mitte"],
        start=await _first_slot(http, offices["mitte"], services["mitte"]),
        headers=headers["citizen"],
    )
    await upload(http, mine, headers["citizen"])
    theirs = await book(
        http,
        tenant=TENANT,
        office=offices["nord"],
        service=services["nord"],
        start=await _first_slot(http, offices["nord"], services["nord"]),
        headers=headers["other_citizen"],
    )
    await upload(http, theirs, headers["other_citizen"])
    said = await http.post(
        f"/documents/v1/bookings/{theirs.booking_id}/room/messages",
        json={"text": "Reicht ein Scan?"},
        headers=headers["other_citizen"],
    )
    assert said.status_code == 201, said.text
    elsewhere = await book(
        http,
        tenant=OTHER_TENANT,
        office=offices["b"],
        service=services["b"],
        start=local_start(9, 9).isoformat(),
    )
    await upload(http, elsewhere, {"X-Manage-Token": elsewhere.manage_token})
    return World(
        system=system,
        headers=headers,
        subjects=subjects,
        offices=offices,
        services=services,
        mine=mine,
        others={"other_citizen": theirs, "other_tenant": elsewhere},
    )


def describe(response: httpx.Response) -> dict[str, Any]:
    """What an assertion message needs of an answer."""
    return {"status": response.status_code, "body": response.text[:500]}
