"""The kit's app: problems for every error, request ids, health, metrics, one commit per request."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, ConfigDict
from sqlalchemy import String, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from starlette.routing import Route

from servicekit.app import create_service_app
from servicekit.db import SessionDep, new_metadata
from servicekit.logs import configure_logging
from servicekit.problems import Conflict, NotFound, problem_responses
from servicekit.settings import Environment, ServiceSettings
from servicekit.testing.live import free_port


class Base(DeclarativeBase):
    metadata = new_metadata()


class Thing(Base):
    __tablename__ = "things"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)


class ThingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    size: int


class ThingMissing(NotFound):
    type_slug = "thing-not-found"
    title = "No such thing"


router = APIRouter(prefix="/kit/v1", tags=["things"])


@router.get("/things/{name}", responses=problem_responses(ThingMissing))
async def get_thing(name: str, session: SessionDep) -> dict[str, str]:
    thing = await session.get(Thing, name)
    if thing is None:
        raise ThingMissing(f"{name} does not exist")
    return {"name": thing.name}


@router.post("/things", status_code=201, responses=problem_responses(Conflict))
async def create_thing(body: ThingIn, session: SessionDep) -> dict[str, str]:
    session.add(Thing(name=body.name))
    await session.flush()
    if body.size < 0:
        # Fails after the flush: the request's transaction must not be committed.
        raise Conflict("negative size")
    return {"name": body.name}


@router.put("/things/{name}", status_code=201)
async def put_thing_without_flushing(name: str, session: SessionDep) -> dict[str, str]:
    session.add(Thing(name=name))  # written by the request's commit
    return {"name": name}


@router.get("/boom")
async def boom() -> None:
    raise RuntimeError("secret internals")


def make_app(database_url: str) -> FastAPI:
    settings = ServiceSettings(
        service_name="kit", environment=Environment.TEST, database_url=database_url
    )
    return create_service_app(
        settings, title="Kit", version="1.0.0", description="kit test app", routers=[router]
    )


@pytest.fixture
async def kit_app(tmp_path: Path) -> AsyncIterator[FastAPI]:
    app = make_app(f"sqlite+aiosqlite:///{tmp_path / 'kit.db'}")
    async with app.state.database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield app
    await app.state.database.dispose()


@pytest.fixture
async def kit(kit_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=kit_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kit") as client:
        yield client


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, object]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = response.json()
    assert body["type"] == f"urn:rathaus:problem:{slug}"
    assert body["status"] == status
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def test_routes_sit_on_the_app_router_with_what_their_router_gave_them(kit_app: FastAPI) -> None:
    # No included-router nodes: each request is matched once, against the routes themselves.
    assert all(isinstance(route, Route) for route in kit_app.routes)
    paths = kit_app.openapi()["paths"]
    assert "/livez" not in paths  # health stays out of the contract
    assert "/readyz" not in paths
    assert paths["/kit/v1/things/{name}"]["get"]["tags"] == ["things"]


async def test_domain_problem_is_rendered_with_its_type(kit: httpx.AsyncClient) -> None:
    response = await kit.get("/kit/v1/things/none")

    body = assert_problem(response, 404, "thing-not-found")
    assert body["detail"] == "none does not exist"
    assert body["instance"] == "/kit/v1/things/none"


async def test_unknown_route_is_404_problem(kit: httpx.AsyncClient) -> None:
    assert_problem(await kit.get("/nowhere"), 404, "not-found")


async def test_wrong_method_is_405_problem(kit: httpx.AsyncClient) -> None:
    response = await kit.delete("/kit/v1/things")

    assert_problem(response, 405, "method-not-allowed")
    assert response.headers["allow"] == "POST"


async def test_a_405_allows_every_method_of_the_path(kit: httpx.AsyncClient) -> None:
    # GET and PUT are two routes of one path: the answer names both, not the first one found.
    response = await kit.delete("/kit/v1/things/one")

    assert_problem(response, 405, "method-not-allowed")
    assert response.headers["allow"] == "GET, PUT"


async def test_malformed_json_is_400_problem(kit: httpx.AsyncClient) -> None:
    response = await kit.post(
        "/kit/v1/things", content=b'{"name": ', headers={"content-type": "application/json"}
    )

    assert_problem(response, 400, "malformed-body")


async def test_invalid_payload_is_422_without_echoing_values(kit: httpx.AsyncClient) -> None:
    response = await kit.post(
        "/kit/v1/things", json={"name": "x", "size": "private-value", "extra": 1}
    )

    body = assert_problem(response, 422, "validation-failed")
    names = {param["name"] for param in body["invalid_params"]}  # type: ignore[attr-defined]
    assert names == {"body.size", "body.extra"}
    assert "private-value" not in response.text


async def test_unexpected_error_is_500_problem_without_internals(
    kit: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        response = await kit.get("/kit/v1/boom")

    assert_problem(response, 500, "internal-error")
    assert "secret internals" not in response.text
    assert "Traceback" not in response.text
    assert any("unhandled error" in record.message for record in caplog.records)


async def test_a_database_out_of_reach_is_503_problem_to_retry(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Nothing listens on the port: connecting is refused, as when PostgreSQL is down.
    app = make_app(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/kit")
    transport = httpx.ASGITransport(app=app)
    with caplog.at_level(logging.WARNING):
        async with httpx.AsyncClient(transport=transport, base_url="http://kit") as client:
            response = await client.get("/kit/v1/things/first")
    await app.state.database.dispose()

    assert_problem(response, 503, "dependency-unavailable")
    assert response.headers["retry-after"] == "5"
    assert "127.0.0.1" not in response.text
    assert any("dependency unreachable" in record.message for record in caplog.records)
    assert not any("unhandled error" in record.message for record in caplog.records)


async def test_request_id_is_echoed_when_well_formed(kit: httpx.AsyncClient) -> None:
    response = await kit.get("/livez", headers={"x-request-id": "abc-123"})

    assert response.headers["x-request-id"] == "abc-123"


async def test_request_id_is_replaced_when_malformed(kit: httpx.AsyncClient) -> None:
    response = await kit.get("/livez", headers={"x-request-id": "bad id\twith spaces"})

    assert response.headers["x-request-id"] != "bad id\twith spaces"
    assert len(response.headers["x-request-id"]) == 32


async def test_request_commits_once_on_success(kit: httpx.AsyncClient, kit_app: FastAPI) -> None:
    created = await kit.post("/kit/v1/things", json={"name": "a", "size": 1})

    assert created.status_code == 201
    assert (await kit.get("/kit/v1/things/a")).status_code == 200


async def test_request_commits_what_the_route_only_added(kit: httpx.AsyncClient) -> None:
    created = await kit.put("/kit/v1/things/quiet")

    assert created.status_code == 201
    assert (await kit.get("/kit/v1/things/quiet")).status_code == 200


async def test_a_request_that_failed_after_reading_gives_its_connection_back(
    kit: httpx.AsyncClient, kit_app: FastAPI
) -> None:
    pool = kit_app.state.database.engine.pool

    missing = await kit.get("/kit/v1/things/nothing")  # a read, then a 404
    assert missing.status_code == 404

    assert pool.checkedout() == 0


async def test_request_rolls_back_when_the_route_fails(
    kit: httpx.AsyncClient, kit_app: FastAPI
) -> None:
    response = await kit.post("/kit/v1/things", json={"name": "b", "size": -1})

    assert_problem(response, 409, "conflict")
    async with kit_app.state.database.sessionmaker() as session:
        count = await session.scalar(select(func.count()).select_from(Thing))
    assert count == 0


async def test_readyz_is_200_while_the_database_answers(kit: httpx.AsyncClient) -> None:
    response = await kit.get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok"}


async def test_readyz_is_503_problem_when_the_database_is_unreachable(tmp_path: Path) -> None:
    app = make_app(f"sqlite+aiosqlite:///{tmp_path / 'missing-dir' / 'db.sqlite'}")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kit") as client:
        response = await client.get("/readyz")
    await app.state.database.dispose()

    body = assert_problem(response, 503, "service-unavailable")
    assert body["checks"] == {"database": "unavailable"}


async def test_readyz_is_200_degraded_with_the_note_of_a_check_that_can_wait(
    tmp_path: Path,
) -> None:
    async def scanner() -> str | None:
        return "unavailable: new documents stay pending"

    settings = ServiceSettings(
        service_name="kit",
        environment=Environment.TEST,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'kit.db'}",
    )
    app = create_service_app(
        settings,
        title="Kit",
        version="1.0.0",
        description="kit test app",
        readiness_checks={"scanner": scanner},
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kit") as client:
        response = await client.get("/readyz")
    await app.state.database.dispose()

    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "checks": {"database": "ok", "scanner": "unavailable: new documents stay pending"},
    }


async def test_metrics_count_requests_per_route_template(kit: httpx.AsyncClient) -> None:
    await kit.get("/kit/v1/things/first")
    await kit.get("/kit/v1/things/zweites-ding")

    metrics = (await kit.get("/metrics")).text

    assert 'handler="/kit/v1/things/{name}"' in metrics
    assert "zweites-ding" not in metrics
    assert "http_request_duration_seconds" in metrics


async def test_access_log_is_json_with_request_id_and_route_template(
    kit: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(service="kit", level="INFO", json=True)
    try:
        await kit.get("/kit/v1/things/max.mustermann", headers={"x-request-id": "req-1"})
    finally:
        logging.getLogger().handlers.clear()

    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    access = [line for line in lines if line["logger"] == "servicekit.access"]
    assert access[-1]["request_id"] == "req-1"
    assert access[-1]["route"] == "/kit/v1/things/{name}"
    assert access[-1]["service"] == "kit"
    assert "max.mustermann" not in json.dumps(lines)


async def test_console_log_lines_read_well_and_keep_the_same_fields(
    kit: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(service="kit", level="INFO", json=False)
    try:
        await kit.get("/kit/v1/things/max.mustermann", headers={"x-request-id": "req-2"})
        await kit.get("/readyz", headers={"x-request-id": "probe-1"})
        try:
            raise RuntimeError("the disk is full")
        except RuntimeError:
            logging.getLogger("kit").exception("could not store")
    finally:
        logging.getLogger().handlers.clear()

    err = capsys.readouterr().err
    access = next(line for line in err.splitlines() if " request " in line)
    assert re.match(r"^\d\d:\d\d:\d\d kit\s+INFO  request  ", access), access
    assert "route=/kit/v1/things/{name}" in access
    assert re.search(r" status=\d{3} ", access), access
    assert "request_id=req-2" in access
    assert "max.mustermann" not in err
    assert "probe-1" not in err  # a probe that succeeds is logged at DEBUG only
    assert "could not store" in err
    assert "RuntimeError: the disk is full" in err
