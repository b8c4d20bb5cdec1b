"""Cooperation between municipalities: each runs its own Rathaus (here: identity and booking on
loopback); a citizen finds the earliest appointment for a service at home and at the partners
in one call, home asking each partner with a client-credentials token from the partner's own
identity, and a partner that is down or slow is reported, not fatal."""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from booking.main import create_app as create_booking
from booking.settings import BookingSettings
from identity.accounts.dependencies import account_service
from identity.audit.dependencies import audit_log
from identity.audit.service import Actor
from identity.clients.dependencies import client_service
from identity.keys.dependencies import key_service
from identity.mail.dependencies import account_mail
from identity.main import create_app as create_identity
from identity.settings import IdentitySettings
from identity.tenants.dependencies import tenant_service
from servicekit.settings import Environment
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
PARTNER_TIMEOUT_S, SLOW_S = 6.0, 12.0
"""Home's deadline for partners (with room for a first token on a busy machine), and how
long the slow partner takes."""


@dataclass
class Rathaus:
    server: LiveServer
    http: httpx.AsyncClient
    identity: LiveServer | None = None
    """A partner's own identity (home trusts the test key set instead)."""
    admin_headers: dict[str, str] | None = None
    credentials: dict[str, Any] | None = None
    """The client the partner registered for home at its identity."""

    def admin(self, tokens: TokenFactory, tenant: str) -> dict[str, str]:
        return self.admin_headers or tokens.headers(sub="admin-1", tenant=tenant, roles=["admin"])

    async def aclose(self) -> None:
        await self.http.aclose()
        self.server.stop()
        if self.identity is not None:
            self.identity.stop()


ADMIN_EMAIL, ADMIN_PASSWORD = "admin@nachbarstadt.example", "admin-password-2026!"


async def start_identity(
    ags: str,
    database_url: str,
    *,
    port: int,
    client_id: str = "home-municipality",
    client_secret: str | None = None,
    scopes: tuple[str, ...] = ("booking:search",),
) -> tuple[LiveServer, str]:
    """A partner's identity on ``port``, with an administrator and the OAuth2 client it
    registered for the home municipality (made by identity's own services, as its seed does);
    the client's secret."""
    app = create_identity(
        IdentitySettings.model_validate(
            {
                "environment": Environment.TEST,
                "auth_issuer": f"http://127.0.0.1:{port}/identity",
                "database_url": database_url,
            }
        )
    )
    state = app.state
    client_secret = client_secret or secrets.token_urlsafe(24)
    async with state.database.sessionmaker() as session, session.begin():
        audit = await audit_log(session, state.clock)
        tenants = await tenant_service(session)
        await tenants.ensure(ags, f"Partner {ags}")
        mail = await account_mail(session, state.mailbox, tenants, state.settings)
        accounts = await account_service(
            session,
            tenants,
            state.passwords,
            audit,
            state.clock,
            mail,
            state.outbox,
            state.settings,
        )
        await accounts.ensure_account(ags, ADMIN_EMAIL, ADMIN_PASSWORD, ["admin"])
        clients = await client_service(session, tenants, audit, state.clock)
        await clients.create(
            ags, "Home", scopes, Actor("test"), client_id=client_id, secret=client_secret
        )
        keys = await key_service(session, state.settings, state.key_cipher, audit, state.clock)
        await keys.signing_key()
    await state.database.engine.dispose()  # the server runs its own event loop
    return run_live_server(app, port=port), client_secret


async def start_partner(
    ags: str, registry: DatabaseRegistry, backend: str, **client: Any
) -> Rathaus:
    """A partner municipality's Rathaus: its own identity, and booking trusting only it."""
    port = free_port()
    identity, secret = await start_identity(
        ags, fresh_database(registry, backend, "identity"), port=port, **client
    )
    issuer = f"{identity.url}/identity"
    booking = create_booking(
        BookingSettings.model_validate(
            {
                "environment": Environment.TEST,
                "database_url": fresh_database(registry, backend, "booking"),
                "auth_issuer": issuer,
                "auth_jwks_url": f"{issuer}/v1/jwks",
                "auth_jwks_min_refetch_s": 0,
            }
        )
    )
    server = run_live_server(booking)
    async with httpx.AsyncClient(base_url=identity.url, timeout=30) as http:
        login = await http.post(
            "/identity/v1/auth/login",
            json={"tenant": ags, "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
        )
    assert login.status_code == 200, login.text
    return Rathaus(
        server,
        httpx.AsyncClient(base_url=server.url, timeout=30),
        identity=identity,
        admin_headers={"Authorization": f"Bearer {login.json()['access_token']}"},
        credentials={
            "issuer": issuer,
            "client_id": client.get("client_id", "home-municipality"),
            "client_secret": secret,
        },
    )


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
        await asyncio.sleep(SLOW_S)
        return {"tenant": ags, "leika": LEIKA, "appointment": None}

    server = run_live_server(app)
    yield server
    server.stop()


async def client_token(partner: Rathaus) -> dict[str, str]:
    """A token of the client ``partner`` registered for home, from the partner's identity."""
    assert partner.identity is not None
    assert partner.credentials is not None
    async with httpx.AsyncClient(base_url=partner.identity.url) as http:
        answer = await http.post(
            "/identity/v1/oauth2/token",
            data={"grant_type": "client_credentials", "scope": "booking:search"},
            auth=(partner.credentials["client_id"], partner.credentials["client_secret"]),
        )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


@pytest.fixture
async def rathauses(
    tokens: TokenFactory, database_registry: DatabaseRegistry, db_backend: str
) -> AsyncIterator[dict[str, Rathaus]]:
    """Booking of the home municipality, and two partners' identity and booking, each on a
    database of its own."""
    started: dict[str, Rathaus] = {}
    try:
        server = start_booking_server(
            tokens,
            fresh_database(database_registry, db_backend, "booking"),
            partner_timeout_s=PARTNER_TIMEOUT_S,
        )
        started[HOME] = Rathaus(server, httpx.AsyncClient(base_url=server.url, timeout=30))
        for tenant in (PARTNER, WITHOUT):
            started[tenant] = await start_partner(tenant, database_registry, db_backend)
        yield started
    finally:
        for rathaus in started.values():
            await rathaus.aclose()


async def test_the_earliest_appointment_here_and_at_the_partners_in_one_call(
    rathauses: dict[str, Rathaus], slow_partner: LiveServer, tokens: TokenFactory
) -> None:
    home, partner = rathauses[HOME], rathauses[PARTNER]
    home_office = await set_up_office(home.http, tokens, tenant=HOME, leika=LEIKA)
    await set_up_office(
        partner.http, tokens, tenant=PARTNER, leika=LEIKA, admin=partner.admin(tokens, PARTNER)
    )
    without = rathauses[WITHOUT]
    await set_up_office(
        without.http, tokens, tenant=WITHOUT, admin=without.admin(tokens, WITHOUT)
    )  # another service
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
        WITHOUT: ("Ohnedorf", without.server.url),
        SLOW: ("Langsamhausen", slow_partner.url),
        CHATTY: ("Schwatzingen", slow_partner.url),
        ODD: ("Sonderbach", slow_partner.url),
        DOWN: ("Ausfallheim", f"http://127.0.0.1:{free_port()}"),
    }
    for ags, (name, url) in partners.items():
        credentials = rathauses[ags].credentials if ags in rathauses else None
        registered = await home.http.put(
            f"/booking/v1/tenants/{HOME}/partners/{ags}",
            json={"name": name, "base_url": url, "credentials": credentials},
            headers=home.admin(tokens, HOME),
        )
        assert registered.status_code == 200, registered.text

    started = asyncio.get_running_loop().time()
    found = await home.http.get(
        f"/booking/v1/tenants/{HOME}/earliest/search", params={"leika": LEIKA}
    )
    took = asyncio.get_running_loop().time() - started
    at_home = await home.http.get(
        f"/booking/v1/tenants/{HOME}/earliest",
        params={"leika": LEIKA},
        headers=tokens.headers(tenant=HOME, roles=[], scopes="booking:search", client_id="p"),
    )
    partner_admin = partner.admin(tokens, PARTNER)  # no scope: staff are no partner
    refused = await partner.http.get(
        f"/booking/v1/tenants/{PARTNER}/earliest", params={"leika": LEIKA}, headers=partner_admin
    )
    at_partner = await partner.http.get(
        f"/booking/v1/tenants/{PARTNER}/earliest",
        params={"leika": LEIKA},
        headers=await client_token(partner),  # what home's search asked with
    )
    anonymous = await partner.http.get(
        f"/booking/v1/tenants/{PARTNER}/earliest", params={"leika": LEIKA}
    )
    assert (anonymous.status_code, refused.status_code) == (401, 403)
    assert refused.json()["type"] == "urn:rathaus:problem:insufficient-scope"

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
    assert took < SLOW_S - 1  # the slow partner's deadline, not its twelve seconds


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
        f"/booking/v1/tenants/{HOME}/earliest",
        params={"leika": LEIKA},
        headers=tokens.headers(tenant=HOME, roles=[], scopes="booking:search", client_id="p"),
    )

    assert (by_citizen.status_code, by_other_admin.status_code) == (403, 404)
    assert by_other_admin.json()["type"] == "urn:rathaus:problem:tenant-not-found"
    assert itself.status_code == 422
    assert itself.json()["type"] == "urn:rathaus:problem:partner-is-itself"
    assert (bad_url.status_code, bad_ags.status_code) == (422, 422)
    assert (created.status_code, renamed.status_code) == (200, 200)
    assert listed.json()["items"] == [
        {
            "ags": PARTNER,
            "name": "Neue Nachbarstadt",
            "base_url": body["base_url"],
            "credentials": None,
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


async def test_home_signs_in_at_the_partner_and_again_when_its_keys_change(
    tokens: TokenFactory, database_registry: DatabaseRegistry, db_backend: str
) -> None:
    """Home holds one token at the partner's identity for as long as it is valid, and when the
    partner refuses it (here: the partner's identity came back with new keys), fetches a fresh
    one and asks once more. Without credentials, or with a wrong secret, the partner is
    unavailable, and its administrator is told why; the secret is never shown again."""
    home_db = fresh_database(database_registry, db_backend, "booking")
    home = start_booking_server(tokens, home_db, partner_timeout_s=PARTNER_TIMEOUT_S)
    partner = await start_partner(PARTNER, database_registry, db_backend)
    assert partner.identity is not None
    assert partner.credentials is not None
    admin = tokens.headers(sub="admin-1", tenant=HOME, roles=["admin"])
    url = f"/booking/v1/tenants/{HOME}/partners/{PARTNER}"
    try:
        async with httpx.AsyncClient(base_url=home.url, timeout=30) as http:
            await set_up_office(
                partner.http, tokens, tenant=PARTNER, leika=LEIKA, admin=partner.admin_headers
            )
            await set_up_office(http, tokens, tenant=HOME, leika=LEIKA)

            async def search_and_list() -> tuple[list[str], str]:
                await asyncio.sleep(1.1)  # past the answer cache's time share
                found = await http.get(
                    f"/booking/v1/tenants/{HOME}/earliest/search", params={"leika": LEIKA}
                )
                assert found.status_code == 200, found.text
                listed = await http.get(f"/booking/v1/tenants/{HOME}/partners", headers=admin)
                [item] = listed.json()["items"]
                return [a["tenant"] for a in found.json()["appointments"]], item["last_outcome"]

            base = {"name": "Nachbarstadt", "base_url": partner.server.url}
            await http.put(url, json=base, headers=admin)
            anonymous = await search_and_list()
            wrong = {**partner.credentials, "client_secret": "not-the-secret"}
            await http.put(url, json={**base, "credentials": wrong}, headers=admin)
            wrong_secret = await search_and_list()
            registered = await http.put(
                url, json={**base, "credentials": partner.credentials}, headers=admin
            )
            signed_in = await search_and_list()

            # The partner's identity restarts on a fresh database: same client, new keys.
            port = httpx.URL(partner.identity.url).port
            assert port is not None
            partner.identity.stop()
            partner.identity, _ = await start_identity(
                PARTNER,
                fresh_database(database_registry, db_backend, "identity"),
                port=port,
                client_secret=partner.credentials["client_secret"],
            )
            after_new_keys = await search_and_list()
    finally:
        home.stop()
        await partner.aclose()

    assert anonymous == ([HOME], "answered 401")
    assert wrong_secret == ([HOME], "no token: token endpoint answered 401")
    assert registered.status_code == 200, registered.text
    assert "client_secret" not in registered.text
    assert registered.json()["credentials"] == {
        "issuer": partner.credentials["issuer"],
        "client_id": "home-municipality",
        "scopes": ["booking:search"],
    }
    for found, outcome in (signed_in, after_new_keys):
        assert (sorted(found), outcome) == ([HOME, PARTNER], "answered")
    # At rest the secret is sealed.
    async with database_registry.engine(home_db).connect() as connection:
        stored = (await connection.execute(text("SELECT client_secret_sealed FROM partners"))).all()
    assert len(stored) == 1
    assert partner.credentials["client_secret"] not in stored[0][0]
