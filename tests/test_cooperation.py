"""Cooperation between municipalities: each runs its own Rathaus (here: booking on loopback);
a citizen finds the earliest appointment for a service at home and at the partners in one
call, and a partner that is down or slow is reported, not fatal."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from servicekit.testing.live import LiveServer, free_port, run_live_server
from servicekit.testing.plugin import DatabaseRegistry
from servicekit.testing.tokens import TokenFactory
from tests.documents_booking.live_booking import (
    fresh_database,
    set_up_office,
    start_booking_server,
)

HOME, PARTNER, SLOW, DOWN, WITHOUT = "06999001", "06999002", "06999003", "06999004", "06999005"
CHATTY, ODD = "06999006", "06999007"
LEIKA = "99102013001000"


@dataclass
class Rathaus:
    server: LiveServer
    http: httpx.AsyncClient

    def admin(self, tokens: TokenFactory, tenant: str) -> dict[str, str]:
        return tokens.headers(sub="admin-1", tenant=tenant, roles=["admin"])


@pytest.fixture
def slow_partner() -> Iterator[LiveServer]:
    """Partners whose Rathaus misbehaves: SLOW answers after the search's deadline, CHATTY
    with far more than an answer, ODD outside the contract."""
    app = FastAPI()

    @app.get("/booking/v1/tenants/{ags}/earliest")
    async def earliest(ags: str) -> Any:
        if ags == CHATTY:
            return {"tenant": ags, "leika": LEIKA, "appointment": None, "x": "x" * 100_000}
        if ags == ODD:
            return {"tenant": ags, "leika": LEIKA, "appointment": {"start": "tomorrow"}}
        await asyncio.sleep(5)
        return {"tenant": ags, "leika": LEIKA, "appointment": None}

    server = run_live_server(app)
    yield server
    server.stop()


@pytest.fixture
async def rathauses(
    tokens: TokenFactory, database_registry: DatabaseRegistry, db_backend: str
) -> AsyncIterator[dict[str, Rathaus]]:
    """Booking of the home municipality and of two partners, each on a database of its own."""
    started: dict[str, Rathaus] = {}
    try:
        for tenant in (HOME, PARTNER, WITHOUT):
            database = fresh_database(database_registry, db_backend, "booking")
            server = start_booking_server(tokens, database)
            started[tenant] = Rathaus(server, httpx.AsyncClient(base_url=server.url, timeout=30))
        yield started
    finally:
        for rathaus in started.values():
            await rathaus.http.aclose()
            rathaus.server.stop()


async def test_the_earliest_appointment_here_and_at_the_partners_in_one_call(
    rathauses: dict[str, Rathaus], slow_partner: LiveServer, tokens: TokenFactory
) -> None:
    home, partner = rathauses[HOME], rathauses[PARTNER]
    home_office = await set_up_office(home.http, tokens, tenant=HOME, leika=LEIKA)
    await set_up_office(partner.http, tokens, tenant=PARTNER, leika=LEIKA)
    await set_up_office(rathauses[WITHOUT].http, tokens, tenant=WITHOUT)  # another service
    # The home office is closed for the next three days: the partner has the earlier slot.
    now = datetime.now(UTC)
    closed = await home.http.post(
        f"/booking/v1/tenants/{HOME}/offices/{home_office.office_id}/closures",
        json={"starts_at": now.isoformat(), "ends_at": (now + timedelta(days=3)).isoformat()},
        headers=home.admin(tokens, HOME),
    )
    assert closed.status_code == 201, closed.text
    partners = {
        PARTNER: ("Nachbarstadt", partner.server.url),
        WITHOUT: ("Ohnedorf", rathauses[WITHOUT].server.url),
        SLOW: ("Langsamhausen", slow_partner.url),
        CHATTY: ("Schwatzingen", slow_partner.url),
        ODD: ("Sonderbach", slow_partner.url),
        DOWN: ("Ausfallheim", f"http://127.0.0.1:{free_port()}"),
    }
    for ags, (name, url) in partners.items():
        registered = await home.http.put(
            f"/booking/v1/tenants/{HOME}/partners/{ags}",
            json={"name": name, "base_url": url},
            headers=home.admin(tokens, HOME),
        )
        assert registered.status_code == 200, registered.text

    started = asyncio.get_running_loop().time()
    found = await home.http.get(
        f"/booking/v1/tenants/{HOME}/earliest/search", params={"leika": LEIKA}
    )
    took = asyncio.get_running_loop().time() - started
    at_home = await home.http.get(f"/booking/v1/tenants/{HOME}/earliest", params={"leika": LEIKA})
    at_partner = await partner.http.get(
        f"/booking/v1/tenants/{PARTNER}/earliest", params={"leika": LEIKA}
    )

    assert found.status_code == 200, found.text
    result = found.json()
    assert [(a["tenant"], a["municipality"]) for a in result["appointments"]] == [
        (PARTNER, "Nachbarstadt"),
        (HOME, None),
    ]
    assert result["appointments"][0]["start"] == at_partner.json()["appointment"]["start"]
    assert result["appointments"][1]["start"] == at_home.json()["appointment"]["start"]
    assert result["appointments"][0]["base_url"] == partner.server.url
    assert datetime.fromisoformat(at_home.json()["appointment"]["start"]) >= now + timedelta(days=3)
    assert result["not_offered"] == [WITHOUT]
    # A citizen learns only that a partner was unavailable; its administrator learns why.
    assert sorted((u["tenant"], u["reason"]) for u in result["unavailable"]) == [
        (SLOW, "unavailable"),
        (DOWN, "unavailable"),
        (CHATTY, "unavailable"),
        (ODD, "unavailable"),
    ]
    listed = await home.http.get(
        f"/booking/v1/tenants/{HOME}/partners", headers=home.admin(tokens, HOME)
    )
    assert {p["ags"]: p["last_outcome"] for p in listed.json()["items"]} == {
        PARTNER: "answered",
        WITHOUT: "not offered",
        SLOW: "timeout",
        DOWN: "unreachable",
        CHATTY: "answered too much",
        ODD: "answered outside the contract",
    }
    assert all(p["last_asked_at"] for p in listed.json()["items"])
    assert took < 4.5  # the slow partner's deadline (2 s), not its five seconds


async def test_partners_are_the_administrators_business(
    rathauses: dict[str, Rathaus], tokens: TokenFactory
) -> None:
    home = rathauses[HOME]
    url = f"/booking/v1/tenants/{HOME}/partners"
    admin = home.admin(tokens, HOME)
    body = {"name": "Nachbarstadt", "base_url": "https://rathaus.nachbarstadt.example"}

    by_citizen = await home.http.put(
        f"{url}/{PARTNER}", json=body, headers=tokens.headers(tenant=HOME, roles=["citizen"])
    )
    by_other_admin = await home.http.put(
        f"{url}/{PARTNER}", json=body, headers=home.admin(tokens, PARTNER)
    )
    itself = await home.http.put(f"{url}/{HOME}", json=body, headers=admin)
    bad_url = await home.http.put(
        f"{url}/{PARTNER}", json={**body, "base_url": "ftp://x"}, headers=admin
    )
    bad_ags = await home.http.put(f"{url}/123", json=body, headers=admin)
    created = await home.http.put(f"{url}/{PARTNER}", json=body, headers=admin)
    renamed = await home.http.put(
        f"{url}/{PARTNER}", json={**body, "name": "Neue Nachbarstadt"}, headers=admin
    )
    listed = await home.http.get(url, headers=admin)
    removed = await home.http.delete(f"{url}/{PARTNER}", headers=admin)
    again = await home.http.delete(f"{url}/{PARTNER}", headers=admin)
    bad_leika = await home.http.get(
        f"/booking/v1/tenants/{HOME}/earliest/search", params={"leika": "123"}
    )
    unknown_service = await home.http.get(
        f"/booking/v1/tenants/{HOME}/earliest", params={"leika": LEIKA}
    )

    assert (by_citizen.status_code, by_other_admin.status_code) == (403, 403)
    assert itself.status_code == 422
    assert itself.json()["type"] == "urn:rathaus:problem:partner-is-itself"
    assert (bad_url.status_code, bad_ags.status_code) == (422, 422)
    assert (created.status_code, renamed.status_code) == (200, 200)
    assert listed.json()["items"] == [
        {
            "ags": PARTNER,
            "name": "Neue Nachbarstadt",
            "base_url": body["base_url"],
            "last_asked_at": None,
            "last_outcome": None,
        }
    ]
    assert (removed.status_code, again.status_code) == (204, 404)
    assert again.headers["content-type"] == "application/problem+json"
    assert bad_leika.status_code == 422
    assert unknown_service.status_code == 404
    assert unknown_service.json()["type"] == "urn:rathaus:problem:service-not-found"


async def test_a_partner_url_into_our_own_network_is_never_called(
    tokens: TokenFactory, database_registry: DatabaseRegistry, db_backend: str
) -> None:
    """Server-side request forgery through a partner's URL: outside development, Rathaus calls
    no loopback, private or link-local address, whatever name leads there, and the anonymous
    searcher learns nothing about what is behind it."""
    hits: list[str] = []
    target = FastAPI()

    @target.get("/{path:path}")
    async def anything(path: str) -> dict[str, str]:
        hits.append(path)
        return {"secret": "internal"}

    listener = run_live_server(target)
    home = start_booking_server(
        tokens,
        fresh_database(database_registry, db_backend, "booking"),
        outbound_allowed_networks=[],  # as in production, over http so loopback can stand in
    )
    port = httpx.URL(listener.url).port
    admin = tokens.headers(sub="admin-1", tenant=HOME, roles=["admin"])
    try:
        async with httpx.AsyncClient(base_url=home.url, timeout=30) as http:
            await set_up_office(http, tokens, tenant=HOME, leika=LEIKA)
            refused = {
                url: await http.put(
                    f"/booking/v1/tenants/{HOME}/partners/{PARTNER}",
                    json={"name": "Innen", "base_url": url},
                    headers=admin,
                )
                for url in (
                    listener.url,
                    f"http://localhost:{port}",
                    "http://169.254.169.254",
                    "http://[::ffff:127.0.0.1]:80",
                )
            }
            # A name is checked when it is called: this machine's own name resolves to one
            # of its own addresses (loopback or private), never to a public one.
            named = await http.put(
                f"/booking/v1/tenants/{HOME}/partners/{PARTNER}",
                json={"name": "Innen", "base_url": f"http://{socket.gethostname()}:{port}"},
                headers=admin,
            )
            found = await http.get(
                f"/booking/v1/tenants/{HOME}/earliest/search", params={"leika": LEIKA}
            )
            listed = await http.get(f"/booking/v1/tenants/{HOME}/partners", headers=admin)
    finally:
        home.stop()
        listener.stop()

    for answer in refused.values():
        assert answer.status_code == 422, answer.text
        assert answer.json()["type"] == "urn:rathaus:problem:partner-url-refused"
    assert named.status_code == 200, named.text
    assert found.status_code == 200, found.text
    assert found.json()["unavailable"] == [
        {"tenant": PARTNER, "municipality": "Innen", "reason": "unavailable"}
    ]
    assert "internal" not in found.text
    [partner] = listed.json()["items"]
    assert partner["last_outcome"].startswith(f"refused: {socket.gethostname()} (")
    assert hits == []
