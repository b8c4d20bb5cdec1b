"""One whole Rathaus on loopback for cross-service tests: identity, booking, documents and the
gateway, each a real uvicorn server on a fresh database of its own (SQLite or PostgreSQL).

Identity signs real tokens; booking, documents and the gateway fetch its JWKS over HTTP. The
demo seeds of identity and booking provide the municipality, its staff, the citizen, the partner
client and the catalogue. Events flow as in production: identity -> booking -> documents, and
documents -> booking (a document the office sent the citizen, which booking mails about).
"""

from __future__ import annotations

import base64
import os
import secrets
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from booking.bookings.models import Booking
from booking.main import create_app as create_booking
from booking.seed import seed_demo as seed_booking
from booking.settings import BookingSettings
from documents.main import create_app as create_documents
from documents.settings import DocumentsSettings
from gateway.main import create_gateway
from gateway.settings import GatewaySettings
from identity.accounts.dependencies import account_service
from identity.audit.dependencies import audit_log
from identity.audit.service import Actor
from identity.clients.dependencies import client_service
from identity.keys.dependencies import key_service
from identity.mail.dependencies import account_mail
from identity.main import create_app as create_identity
from identity.seed import seed_demo as seed_identity
from identity.settings import IdentitySettings
from identity.tenants.dependencies import tenant_service
from servicekit.db import create_engine
from servicekit.settings import Environment
from servicekit.testing.live import LiveServer, free_port, run_live_server
from servicekit.testing.plugin import DatabaseRegistry
from tests.documents_booking.live_booking import fresh_database

TENANT = "06999001"
ISSUER = "http://rathaus.test/identity"
SERVICES = ("identity", "booking", "documents")
# The demo seed's people (public demo credentials).
CITIZEN = {
    "tenant": TENANT,
    "email": "erika.mustermann@example.org",
    "password": "demo-citizen-2026",
}
ADMIN = {"tenant": TENANT, "email": "admin@musterstadt.example", "password": "demo-admin-2026!"}
CLERK = {
    "tenant": TENANT,
    "email": "sachbearbeitung@musterstadt.example",
    "password": "demo-clerk-2026!",
}
PLATFORM_ADMIN = {
    "tenant": TENANT,
    "email": "plattform@musterstadt.example",
    "password": "demo-plattform-2026",
}


@dataclass
class System:
    gateway: str
    servers: list[LiveServer]
    """identity, booking, documents, gateway (in this order)."""
    database_urls: dict[str, str]
    booking_database_url: str
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def urls(self) -> dict[str, str]:
        """Each service's own base URL (behind the gateway's back), and the gateway's."""
        return {
            name: server.url
            for name, server in zip((*SERVICES, "gateway"), self.servers, strict=False)
        }

    def stop(self) -> None:
        for server in reversed(self.servers):
            server.stop()


async def _seeded(app: FastAPI, seed: Callable[[FastAPI], Awaitable[None]]) -> FastAPI:
    await seed(app)
    # The server runs its own event loop: connections made here must not be reused there.
    await app.state.database.engine.dispose()
    return app


async def start_system(
    registry: DatabaseRegistry,
    backend: str,
    blob_dir: Path,
    *,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    ports: Mapping[str, int] | None = None,
) -> System:
    """Start the four servers, seeded; ``overrides`` are settings per server (``identity``,
    ``booking``, ``documents``, ``gateway``), ``ports`` the services' ports where a test needs
    to know them up front (free ones otherwise). The caller stops the system."""
    overrides = overrides or {}
    auth = {"environment": Environment.TEST, "auth_issuer": ISSUER}
    ports = {name: (ports or {}).get(name) or free_port() for name in SERVICES}
    # Events between the services as in production: identity -> booking -> documents.
    to_booking, to_documents = "i" * 32 + os.urandom(8).hex(), "b" * 32 + os.urandom(8).hex()
    documents_to_booking = "d" * 32 + os.urandom(8).hex()
    events = {"events_dispatch_interval_s": 0.1}
    urls = {name: fresh_database(registry, backend, name) for name in SERVICES}
    servers: list[LiveServer] = []
    try:
        identity = await _seeded(
            create_identity(
                IdentitySettings.model_validate(
                    {
                        **auth,
                        "database_url": urls["identity"],
                        **events,
                        "events_subscribers": [
                            {
                                "name": "booking",
                                "url": f"http://127.0.0.1:{ports['booking']}/booking/v1/events",
                                "secret": to_booking,
                            }
                        ],
                        **overrides.get("identity", {}),
                    }
                )
            ),
            seed_identity,
        )
        servers.append(run_live_server(identity, port=ports["identity"]))
        jwks = f"{servers[0].url}/identity/v1/jwks"
        booking = await _seeded(
            create_booking(
                BookingSettings.model_validate(
                    {
                        **auth,
                        "auth_jwks_url": jwks,
                        "database_url": urls["booking"],
                        **events,
                        "events_secrets": {
                            "identity": to_booking,
                            "documents": documents_to_booking,
                        },
                        "events_subscribers": [
                            {
                                "name": "documents",
                                "url": f"http://127.0.0.1:{ports['documents']}/documents/v1/events",
                                "secret": to_documents,
                            }
                        ],
                        **overrides.get("booking", {}),
                    }
                )
            ),
            seed_booking,
        )
        servers.append(run_live_server(booking, port=ports["booking"]))
        documents = create_documents(
            DocumentsSettings.model_validate(
                {
                    **auth,
                    "auth_jwks_url": jwks,
                    "database_url": urls["documents"],
                    "blob_dir": blob_dir,
                    "keks": {"k1": base64.b64encode(os.urandom(32)).decode()},
                    "active_kek_id": "k1",
                    "booking_url": servers[1].url,
                    "events_secrets": {"booking": to_documents},
                    **events,
                    # A document the office puts into the room: booking mails the citizen.
                    "events_subscribers": [
                        {
                            "name": "booking",
                            "url": f"http://127.0.0.1:{ports['booking']}/booking/v1/events",
                            "secret": documents_to_booking,
                            "types": ["de.rathaus.documents.document.sent"],
                        }
                    ],
                    **overrides.get("documents", {}),
                }
            )
        )
        servers.append(run_live_server(documents, port=ports["documents"]))
        gateway = create_gateway(
            GatewaySettings.model_validate(
                {
                    **auth,
                    "auth_jwks_url": jwks,
                    "identity_url": servers[0].url,
                    "booking_url": servers[1].url,
                    "documents_url": servers[2].url,
                    **overrides.get("gateway", {}),
                }
            )
        )
        servers.append(run_live_server(gateway))
    except BaseException:
        for server in reversed(servers):
            server.stop()
        raise
    return System(
        gateway=servers[3].url,
        servers=servers,
        database_urls=urls,
        booking_database_url=urls["booking"],
        ports=ports,
    )


def book_first_slot(
    gateway: httpx.Client, citizen: dict[str, str], *, leika: str | None = None
) -> tuple[str, str]:
    """The citizen books the first free slot of the first service (or the one with ``leika``);
    (booking id, office id)."""
    services = gateway.get(f"/booking/v1/tenants/{TENANT}/services").json()["items"]
    service = next(s for s in services if leika in (None, s["leika"]))
    assert service["required_documents"], "the pre-information: what to bring"
    office = gateway.get(f"/booking/v1/tenants/{TENANT}/offices").json()["items"][0]
    month = (date.today() + timedelta(days=10)).strftime("%Y-%m")
    where = {"service_id": service["id"], "office_id": office["id"]}
    days = gateway.get(
        f"/booking/v1/tenants/{TENANT}/availability/days", params={**where, "month": month}
    ).json()["days"]
    slots = gateway.get(
        f"/booking/v1/tenants/{TENANT}/availability/slots",
        params={**where, "date": days[0]["date"]},
    ).json()["slots"]

    hold = gateway.post(
        f"/booking/v1/tenants/{TENANT}/holds",
        json={
            "office_id": office["id"],
            "service_ids": [service["id"]],
            "start": slots[0]["start"],
        },
        headers=citizen,
    )
    assert hold.status_code == 201, hold.text
    booking_id: str = hold.json()["id"]
    confirmed = gateway.post(
        f"/booking/v1/bookings/{booking_id}/confirm",
        json={"name": "Erika Mustermann", "email": CITIZEN["email"]},
        headers=citizen,
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "confirmed"
    return booking_id, office["id"]


async def move_appointment(database_url: str, booking_id: str, starts_at: datetime) -> None:
    """Move the appointment behind the services' backs (booking's own table)."""
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                update(Booking)
                .where(Booking.id == uuid.UUID(booking_id))
                .values(starts_at=starts_at, ends_at=starts_at + timedelta(minutes=20))
            )
    finally:
        await engine.dispose()


async def appointment_begins_now(database_url: str, booking_id: str) -> None:
    """Move the appointment to now, as if the day had come (behind the services' backs)."""
    await move_appointment(database_url, booking_id, datetime.now(UTC))


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


@dataclass
class Neighbour:
    """A neighbouring municipality's whole Rathaus (identity, booking, documents, gateway), with
    the OAuth2 client it registered for the home municipality at its identity."""

    ags: str
    servers: list[LiveServer]
    """identity, booking, documents, gateway (in this order)."""
    issuer: str
    client_id: str
    client_secret: str
    database_urls: dict[str, str]
    blob_dir: Path

    @property
    def gateway(self) -> str:
        return self.servers[3].url

    def stop(self) -> None:
        for server in reversed(self.servers):
            server.stop()


async def start_neighbour(
    registry: DatabaseRegistry,
    backend: str,
    blob_dir: Path,
    ags: str,
    *,
    client_id: str = "home-municipality",
    scopes: tuple[str, ...] = ("booking:search", "cases:handover"),
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Neighbour:
    """A neighbour's Rathaus on loopback, its identity the issuer its services trust, with
    settings ``overrides`` per server (``booking``, ``documents``, ``gateway``); the caller
    stops it. Its administrator is ``ADMIN_EMAIL``."""
    overrides = overrides or {}
    port = free_port()
    urls = {name: fresh_database(registry, backend, name) for name in SERVICES}
    identity, secret = await start_identity(
        ags, urls["identity"], port=port, client_id=client_id, scopes=scopes
    )
    servers = [identity]
    issuer = f"{identity.url}/identity"
    auth = {
        "environment": Environment.TEST,
        "auth_issuer": issuer,
        "auth_jwks_url": f"{issuer}/v1/jwks",
    }
    try:
        booking = create_booking(
            BookingSettings.model_validate(
                {**auth, "database_url": urls["booking"], **overrides.get("booking", {})}
            )
        )
        servers.append(run_live_server(booking))
        documents = create_documents(
            DocumentsSettings.model_validate(
                {
                    **auth,
                    "database_url": urls["documents"],
                    "blob_dir": blob_dir,
                    "keks": {"n1": base64.b64encode(os.urandom(32)).decode()},
                    "active_kek_id": "n1",
                    "booking_url": servers[1].url,
                    **overrides.get("documents", {}),
                }
            )
        )
        servers.append(run_live_server(documents))
        gateway = create_gateway(
            GatewaySettings.model_validate(
                {
                    **auth,
                    "identity_url": servers[0].url,
                    "booking_url": servers[1].url,
                    "documents_url": servers[2].url,
                    **overrides.get("gateway", {}),
                }
            )
        )
        servers.append(run_live_server(gateway))
    except BaseException:
        for server in reversed(servers):
            server.stop()
        raise
    return Neighbour(ags, servers, issuer, client_id, secret, urls, blob_dir)
