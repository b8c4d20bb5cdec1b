"""The OpenAPI document a service publishes as its contract.

FastAPI's generated document is adjusted so that it tells the truth about our errors: every
error response is ``application/problem+json`` with the ProblemDetails schema (FastAPI's own
HTTPValidationError never reaches a client), and operations that take a body also document the
400 a malformed body gets. Operation ids are the endpoint's name in camelCase (``holdSlot``),
which is what a generated client names its functions after; two routes of one service may not
share a name.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from fastapi import FastAPI
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from fastapi.security import OAuth2

from servicekit.problems import PROBLEM_MEDIA_TYPE

CLIENT_CREDENTIALS_SCHEME = "clientCredentials"
TOKEN_URL = "/identity/v1/oauth2/token"

client_credentials = OAuth2(
    flows=OAuthFlows(clientCredentials=OAuthFlowClientCredentials(tokenUrl=TOKEN_URL, scopes={})),
    scheme_name=CLIENT_CREDENTIALS_SCHEME,
    description=(
        "A partner authority's OAuth2 client (client credentials at identity's token "
        "endpoint, through the gateway); each operation names the scopes it needs"
    ),
    auto_error=False,
)
"""The security scheme of every scoped route (``servicekit.auth.require_scopes``): the token
itself is read by the bearer check; this only documents the flow and the scopes."""

ANONYMOUS_TOO: dict[str, Any] = {"security": [{}]}
"""``openapi_extra`` of a route that takes a token but serves anonymous callers too
(``OptionalPrincipal``): the empty requirement says that no credential is an alternative."""

_PROBLEM_REF = {"$ref": "#/components/schemas/ProblemDetails"}
_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


SERVERS = [
    {
        "url": "/",
        "description": (
            "Where this document is served: the gateway's origin for clients (every path "
            "carries its service's prefix, /<service>/v1/...); a service answers the same "
            "paths on its own origin inside the deployment"
        ),
    }
]
"""Relative, so the one contract holds for every deployment (OpenAPI resolves it against the
document's own URL)."""

GATEWAY_RESPONSES = {
    "429": "Too many requests (gateway rate limit); see Retry-After and RateLimit",
    "502": "The service broke off its answer (gateway)",
    "503": "The service is unavailable or its circuit is open (gateway); see Retry-After",
    "504": "The service did not answer in time (gateway)",
}
"""What the gateway in front of every service may answer for any operation."""


def _problem_content() -> dict[str, Any]:
    return {PROBLEM_MEDIA_TYPE: {"schema": dict(_PROBLEM_REF)}}


def _fix_operation(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status, response in responses.items():
        if status[:1] in {"4", "5"}:
            response["content"] = _problem_content()
    if "422" in responses:
        responses["422"]["description"] = "The request is not valid"
    # Every operation can fail unexpectedly; say what the client then gets.
    responses.setdefault(
        "default", {"description": "An unexpected error", "content": _problem_content()}
    )
    # Clients reach every service through the gateway: its own answers are part of the promise.
    for status, meaning in GATEWAY_RESPONSES.items():
        responses.setdefault(status, {"description": meaning, "content": _problem_content()})
    if "requestBody" in operation and "400" not in responses:
        responses["400"] = {
            "description": "The request body is not well-formed",
            "content": _problem_content(),
        }
    operation["responses"] = dict(sorted(responses.items()))
    for parameter in operation.get("parameters", []):
        plain_optional_header(parameter)
    # An operation without a security requirement is public: say so explicitly.
    operation["security"] = _requirements(operation.get("security", []))


def plain_optional_header(parameter: dict[str, Any]) -> None:
    """An optional header is a string or absent: FastAPI's ``anyOf: [X, null]`` for a
    ``str | None`` header says a null that no HTTP message can carry (and generated clients
    turn it into a union type)."""
    schema = parameter.get("schema", {})
    alternatives = schema.get("anyOf")
    if parameter.get("in") != "header" or parameter.get("required") or not alternatives:
        return
    kept = [alternative for alternative in alternatives if alternative != {"type": "null"}]
    if len(kept) == 1 and len(kept) < len(alternatives):
        rest = {key: value for key, value in schema.items() if key != "anyOf"}
        parameter["schema"] = {**kept[0], **rest}


def _requirements(security: list[dict[str, list[str]]]) -> list[dict[str, list[str]]]:
    """Scopes belong to the OAuth2 scheme alone (FastAPI hands them to the bearer check too);
    each alternative once."""
    requirements: list[dict[str, list[str]]] = []
    for requirement in security:
        cleaned = {
            name: scopes if name == CLIENT_CREDENTIALS_SCHEME else []
            for name, scopes in requirement.items()
        }
        if cleaned not in requirements:
            requirements.append(cleaned)
    return requirements


def build_openapi(app: FastAPI) -> dict[str, Any]:
    document = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
        servers=app.servers,
        webhooks=app.webhooks.routes,
    )
    for path_item in document.get("webhooks", {}).values():
        for method, operation in path_item.items():
            if method in _METHODS:
                # What a subscriber answers: FastAPI's validation error is not one of them.
                operation.get("responses", {}).pop("422", None)
                # Signed by the callback headers, not by a token of ours.
                operation.setdefault("security", [])
                # Sent as structured CloudEvents (servicekit.events).
                content = operation.get("requestBody", {}).get("content", {})
                if "application/json" in content:
                    content["application/cloudevents+json"] = content.pop("application/json")
    for path_item in document.get("paths", {}).values():
        for method, operation in path_item.items():
            if method in _METHODS:
                _fix_operation(operation)
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    if (
        any(
            "ProblemDetails" in str(op.get("responses"))
            for item in document.get("paths", {}).values()
            for op in item.values()
            if isinstance(op, dict)
        )
        and "ProblemDetails" not in schemas
    ):
        from servicekit.problems import ProblemDetails

        schemas["ProblemDetails"] = ProblemDetails.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        for name, schema in schemas["ProblemDetails"].pop("$defs", {}).items():
            schemas.setdefault(name, schema)
    document["components"]["schemas"] = dict(sorted(schemas.items()))
    _list_scopes(document)
    return document


def _list_scopes(document: dict[str, Any]) -> None:
    """The client-credentials flow lists every scope an operation of this service requires."""
    scheme = document["components"].get("securitySchemes", {}).get(CLIENT_CREDENTIALS_SCHEME)
    if scheme is None:
        return
    used = sorted(
        {
            scope
            for item in document.get("paths", {}).values()
            for operation in item.values()
            if isinstance(operation, dict)
            for requirement in operation.get("security", [])
            for scope in requirement.get(CLIENT_CREDENTIALS_SCHEME, [])
        }
    )
    scheme["flows"]["clientCredentials"]["scopes"] = {
        scope: "Granted to a partner's client by the municipality's administrators"
        for scope in used
    }


def operation_id(name: str) -> str:
    """``hold_slot`` -> ``holdSlot``: an endpoint function's name as its operation id."""
    first, *rest = name.split("_")
    return first + "".join(word[:1].upper() + word[1:] for word in rest)


def name_operations(app: FastAPI) -> None:
    """Give every route without an explicit operation id its readable one; refuse duplicates."""
    seen: dict[str, str] = {}
    for route in (*app.routes, *app.webhooks.routes):
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        name = route.operation_id = route.operation_id or operation_id(route.name)
        # One id per operation: a route serving two methods would hand both the same one.
        if name in seen or len(route.methods or ()) > 1:
            raise ValueError(
                f"operation id {name!r} of {route.path} is not unique "
                f"(also {seen.get(name, 'another method')}): "
                "rename one endpoint function or give it an operation_id"
            )
        seen[name] = route.path


def install_openapi(app: FastAPI) -> None:
    name_operations(app)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


_NUMBER_LIKE = re.compile(r"^[-+]?[0-9][0-9_.eE+-]*$")


class _ContractDumper(yaml.SafeDumper):
    """Quotes strings that a YAML 1.2 reader would take for numbers (an AGS like 06999001)."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "'" if _NUMBER_LIKE.match(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_ContractDumper.add_representer(str, _represent_str)


def to_yaml(document: dict[str, Any]) -> str:
    return yaml.dump(
        document, Dumper=_ContractDumper, sort_keys=False, allow_unicode=True, width=100
    )


def write_contract(app: FastAPI, path: Path) -> bool:
    """Write the app's contract to ``path``; True when the file changed."""
    text = to_yaml(app.openapi())
    old = path.read_text(encoding="utf-8") if path.exists() else None
    if old == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True
