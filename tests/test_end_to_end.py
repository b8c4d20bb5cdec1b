"""The system as a citizen meets it: every service on a real server, reached only via the gateway.

Identity signs real tokens; booking, documents and the gateway fetch its JWKS over HTTP. The
demo seeds of identity and booking provide the municipality, the citizen and the catalogue.
"""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
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
from servicekit.testing.live import LiveServer, run_live_server
from servicekit.testing.plugin import DatabaseRegistry
from tests.documents_booking.live_booking import fresh_database

ROOT = Path(__file__).resolve().parents[1]
TENANT = "06999001"
ISSUER = "http://rathaus.test/identity"
CITIZEN = {
    "tenant": TENANT,
    "email": "erika.mustermann@example.org",
    "password": "demo-citizen-2026",
}
PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@dataclass
class System:
    gateway: str
    servers: list[LiveServer]


async def _seeded(app: FastAPI, seed: object) -> FastAPI:
    await seed(app)  # type: ignore[operator]
    # The server runs its own event loop: connections made here must not be reused there.
    await app.state.database.engine.dispose()
    return app


@pytest.fixture
async def system(
    database_registry: DatabaseRegistry,
    db_backend: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> AsyncIterator[System]:
    auth = {"environment": Environment.TEST, "auth_issuer": ISSUER}
    servers: list[LiveServer] = []
    try:
        identity = await _seeded(
            create_identity(
                IdentitySettings.model_validate(
                    {
                        **auth,
                        "database_url": fresh_database(database_registry, db_backend, "identity"),
                        "rsa_key_bits": 3072,
                    }
                )
            ),
            seed_identity,
        )
        servers.append(run_live_server(identity))
        jwks = f"{servers[0].url}/identity/v1/jwks"
        booking = await _seeded(
            create_booking(
                BookingSettings.model_validate(
                    {
                        **auth,
                        "auth_jwks_url": jwks,
                        "database_url": fresh_database(database_registry, db_backend, "booking"),
                    }
                )
            ),
            seed_booking,
        )
        servers.append(run_live_server(booking))
        documents = create_documents(
            DocumentsSettings.model_validate(
                {
                    **auth,
                    "auth_jwks_url": jwks,
                    "database_url": fresh_database(database_registry, db_backend, "documents"),
                    "blob_dir": tmp_path / "blobs",
                    "keks": {"k1": base64.b64encode(os.urandom(32)).decode()},
                    "active_kek_id": "k1",
                    "booking_url": servers[1].url,
                }
            )
        )
        servers.append(run_live_server(documents))
        gateway = create_gateway(
            GatewaySettings.model_validate(
                {
                    **auth,
                    "auth_jwks_url": jwks,
                    "identity_url": servers[0].url,
                    "booking_url": servers[1].url,
                    "documents_url": servers[2].url,
                }
            )
        )
        servers.append(run_live_server(gateway))
        capsys.readouterr()  # the seeds print demo credentials
        yield System(gateway=servers[3].url, servers=servers)
    finally:
        for server in reversed(servers):
            server.stop()


def _login(client: httpx.Client, credentials: dict[str, str]) -> dict[str, str]:
    response = client.post("/identity/v1/auth/login", json=credentials)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_citizen_books_with_pre_information_and_hands_in_a_document(system: System) -> None:
    with httpx.Client(base_url=system.gateway, timeout=20) as gateway:
        assert gateway.get("/readyz").status_code == 200
        citizen = _login(gateway, CITIZEN)

        service = gateway.get(f"/booking/v1/tenants/{TENANT}/services").json()["items"][0]
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
        booking_id = hold.json()["id"]
        confirmed = gateway.post(
            f"/booking/v1/bookings/{booking_id}/confirm",
            json={"name": "Erika Mustermann", "email": CITIZEN["email"]},
            headers=citizen,
        )
        assert confirmed.status_code == 200, confirmed.text
        assert confirmed.json()["status"] == "confirmed"

        checklist = gateway.get(f"/booking/v1/bookings/{booking_id}/checklist", headers=citizen)
        item = checklist.json()["items"][0]["id"]
        upload = gateway.post(
            f"/documents/v1/bookings/{booking_id}/items/{item}/documents",
            content=PDF,
            headers={**citizen, "content-type": "application/pdf"},
        )
        assert upload.status_code == 201, upload.text
        document = upload.json()["id"]
        download = gateway.get(f"/documents/v1/documents/{document}/content", headers=citizen)
        assert download.status_code == 200, download.text
        assert download.content == PDF
        assert download.headers["x-request-id"]


def test_a_forged_token_is_refused_at_every_service_behind_the_gateway(system: System) -> None:
    with httpx.Client(base_url=system.gateway, timeout=20) as gateway:
        token = _login(gateway, CITIZEN)["Authorization"].split(" ", 1)[1]
        header, payload, signature = token.split(".")
        forged = ".".join(
            [header, payload, signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")]
        )

        for path in ("/booking/v1/bookings", "/documents/v1/documents/0"):
            response = gateway.get(path, headers={"Authorization": f"Bearer {forged}"})
            assert response.status_code == 401, (path, response.text)
            assert response.headers["content-type"] == "application/problem+json"
