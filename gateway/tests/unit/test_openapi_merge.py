from __future__ import annotations

from typing import Any

from gateway.openapi import merge


def _contract(path: str, schema: str = "Tenant") -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "x", "version": "1"},
        "paths": {
            path: {
                "get": {
                    "operationId": "read",
                    "security": [{"HTTPBearer": []}],
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": f"#/components/schemas/{schema}"}
                                }
                            },
                        }
                    },
                }
            }
        },
        "components": {
            "schemas": {
                schema: {
                    "oneOf": [{"$ref": "#/components/schemas/Part"}],
                    "discriminator": {
                        "propertyName": "kind",
                        "mapping": {"part": "#/components/schemas/Part"},
                    },
                },
                "Part": {"type": "object"},
            },
            "securitySchemes": {"HTTPBearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _merged(**contracts: dict[str, Any]) -> dict[str, Any]:
    return merge(contracts, title="t", version="1", description="d")


def test_same_schema_name_in_two_services_does_not_collide() -> None:
    document = _merged(a=_contract("/a/v1/x"), b=_contract("/b/v1/x"))

    schemas = document["components"]["schemas"]
    assert {"a.Tenant", "a.Part", "b.Tenant", "b.Part"} <= set(schemas)
    assert all(name.split(".")[0] in {"a", "b", "gateway"} for name in schemas)
    response = document["paths"]["/b/v1/x"]["get"]["responses"]["200"]
    assert response["content"]["application/json"]["schema"]["$ref"] == (
        "#/components/schemas/b.Tenant"
    )
    assert schemas["a.Tenant"]["discriminator"]["mapping"]["part"] == (
        "#/components/schemas/a.Part"
    )


def test_operation_ids_and_security_requirements_are_namespaced() -> None:
    document = _merged(a=_contract("/a/v1/x"), b=_contract("/b/v1/x"))

    operation = document["paths"]["/a/v1/x"]["get"]
    assert operation["operationId"] == "a.read"
    assert operation["security"] == [{"a.HTTPBearer": []}]
    assert "b.HTTPBearer" in document["components"]["securitySchemes"]


def test_path_outside_the_service_prefix_is_left_out() -> None:
    document = _merged(a=_contract("/.well-known/x"))

    assert document["paths"] == {}


def test_the_well_known_services_root_paths_are_kept_as_the_gateway_routes_them() -> None:
    document = merge(
        {"a": _contract("/.well-known/x"), "b": _contract("/.well-known/y")},
        title="t",
        version="1",
        description="d",
        well_known_service="a",
    )

    assert set(document["paths"]) == {"/.well-known/x"}
    assert [server["url"] for server in document["servers"]] == ["/"]


def test_service_cannot_claim_another_services_path() -> None:
    document = _merged(a=_contract("/a/v1/x"), b=_contract("/a/v1/x"))

    assert set(document["paths"]) == {"/a/v1/x"}
    assert document["paths"]["/a/v1/x"]["get"]["operationId"] == "a.read"


def test_every_operation_documents_what_the_gateway_may_answer() -> None:
    document = _merged(a=_contract("/a/v1/x"))

    responses = document["paths"]["/a/v1/x"]["get"]["responses"]
    assert set(responses) == {"200", "429", "502", "503", "504"}
    schema = responses["503"]["content"]["application/problem+json"]["schema"]
    assert schema["$ref"] == "#/components/schemas/gateway.ProblemDetails"
    assert "gateway.ProblemDetails" in document["components"]["schemas"]


def test_the_gateways_own_description_is_kept() -> None:
    document = _merged(booking=_contract("/booking/v1/tenants"))

    assert document["info"] == {"title": "t", "version": "1", "description": "d"}


def test_schema_titles_are_namespaced_for_client_generators() -> None:
    document = _merged(
        booking=_contract("/booking/v1/tenants"), documents=_contract("/documents/v1/tenants")
    )
    schemas = document["components"]["schemas"]

    assert schemas["booking.Tenant"]["title"] == "booking.Tenant"
    assert schemas["documents.Tenant"]["title"] == "documents.Tenant"
