"""Every service answers every error as RFC 9457 problem+json: a client parses one format."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from booking.main import create_app as create_booking
from booking.settings import BookingSettings
from documents.main import create_app as create_documents
from documents.settings import DocumentsSettings
from gateway.main import create_gateway
from gateway.settings import GatewaySettings
from identity.main import create_app as create_identity
from identity.settings import IdentitySettings
from servicekit.settings import Environment

SERVICES: dict[str, Callable[[Path], Any]] = {
    "identity": lambda tmp: create_identity(
        IdentitySettings(
            environment=Environment.TEST, database_url=f"sqlite+aiosqlite:///{tmp}/i.db"
        )
    ),
    "booking": lambda tmp: create_booking(
        BookingSettings(
            environment=Environment.TEST, database_url=f"sqlite+aiosqlite:///{tmp}/b.db"
        )
    ),
    "documents": lambda tmp: create_documents(
        DocumentsSettings(
            environment=Environment.TEST, database_url=f"sqlite+aiosqlite:///{tmp}/d.db"
        )
    ),
    "gateway": lambda tmp: create_gateway(GatewaySettings(environment=Environment.TEST)),
}


@pytest.fixture(params=sorted(SERVICES))
async def service(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[str, FastAPI, httpx.AsyncClient]]:
    name: str = request.param
    served = SERVICES[name](tmp_path)
    # The gateway serves a raw proxy in front of its FastAPI app: test what is served.
    app: FastAPI = served if isinstance(served, FastAPI) else served.app
    transport = httpx.ASGITransport(app=served)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield name, app, client
    if app.state.database is not None:
        await app.state.database.dispose()


def assert_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:rathaus:problem:")
    assert body["title"]
    assert "Traceback" not in response.text


def json_body_operation(app: FastAPI) -> tuple[str, str] | None:
    """(method, path) of an operation taking a JSON body, with path parameters filled in."""
    document: dict[str, Any] = app.openapi()
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                concrete = path
                for parameter in operation.get("parameters", []) + item.get("parameters", []):
                    if parameter.get("in") == "path":
                        concrete = concrete.replace("{" + parameter["name"] + "}", "1")
                return method.upper(), concrete
    return None


async def test_unknown_route_is_404_problem(
    service: tuple[str, FastAPI, httpx.AsyncClient],
) -> None:
    _, _, client = service

    assert_problem(await client.get("/no/such/route/here"), 404)


async def test_wrong_method_is_405_problem(service: tuple[str, FastAPI, httpx.AsyncClient]) -> None:
    _, _, client = service

    assert_problem(await client.post("/livez"), 405)


# The gateway passes bodies through unparsed: the service behind it answers.
@pytest.mark.parametrize("service", sorted(set(SERVICES) - {"gateway"}), indirect=True)
async def test_malformed_json_is_a_problem(service: tuple[str, FastAPI, httpx.AsyncClient]) -> None:
    name, app, client = service
    operation = json_body_operation(app)
    assert operation is not None, f"{name} has no operation taking a JSON body"
    method, path = operation

    response = await client.request(
        method, path, content=b'{"broken": ', headers={"content-type": "application/json"}
    )

    # The body is parsed before any dependency (authentication included) runs.
    assert_problem(response, 400)
