"""Operation ids: readable, and unique within a service's contract."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI

from servicekit.openapi import install_openapi, operation_id


def test_an_endpoint_name_becomes_its_camel_case_operation_id() -> None:
    assert operation_id("hold_slot") == "holdSlot"
    assert operation_id("kpis") == "kpis"
    assert operation_id("confirm_opted_in_booking") == "confirmOptedInBooking"


def test_every_route_gets_its_readable_id_and_an_explicit_one_is_kept() -> None:
    app = FastAPI()

    @app.post("/holds")
    async def hold_slot() -> None: ...

    @app.get("/kpis", operation_id="municipalityKpis")
    async def kpis() -> None: ...

    install_openapi(app)
    paths = app.openapi()["paths"]

    assert paths["/holds"]["post"]["operationId"] == "holdSlot"
    assert paths["/kpis"]["get"]["operationId"] == "municipalityKpis"


def test_two_routes_with_one_name_are_refused() -> None:
    def listing_route(prefix: str) -> APIRouter:
        router = APIRouter(prefix=prefix)

        @router.get("")
        async def listing() -> None: ...

        return router

    app = FastAPI()
    # As create_service_app mounts a service's routers.
    for router in (listing_route("/offices"), listing_route("/services")):
        app.router.routes.extend(router.routes)

    with pytest.raises(ValueError, match="operation id 'listing' of /services is not unique"):
        install_openapi(app)


def test_one_route_with_two_methods_is_refused() -> None:
    app = FastAPI()

    @app.api_route("/either", methods=["GET", "POST"])
    async def either() -> None: ...

    with pytest.raises(ValueError, match="not unique"):
        install_openapi(app)


def test_a_route_left_out_of_the_contract_is_not_named() -> None:
    app = FastAPI()

    @app.api_route("/either", methods=["GET", "POST"], include_in_schema=False)
    async def either() -> None: ...

    install_openapi(app)

    assert app.openapi()["paths"] == {}
