"""One whole Rathaus on loopback for cross-service tests: identity, booking, documents and the
gateway, each a real uvicorn server on a fresh database of its own (SQLite or PostgreSQL).

Identity signs real tokens; booking, documents and the gateway fetch its JWKS over HTTP. The
demo seeds of identity and booking provide the municipality, its staff, the citizen, the partner
client and the catalogue. Events flow as in production: identity -> booking -> documents.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from booking.main import create_app as create_booking
from booking.seed import seed_demo as seed_booking
from booking.settings import BookingSettings
from documents.main import create_app as create_documents
from documents.settings import DocumentsSettings
from gateway.main import create_gateway
from gateway.settings import GatewaySettings
from identity.main import create_app as create_identity
from identity.seed import seed_demo as seed_identity
from identity.settings import IdentitySettings
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
                        "events_secrets": {"identity": to_booking},
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
