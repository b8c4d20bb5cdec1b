"""One API document: the services' published contracts merged into the gateway's /openapi.json.

Paths are kept (they start with ``/<service>/``, or ``/.well-known/`` for the service the
gateway routes those to: identity's OpenID discovery and JWKS at the root); any other path
outside its service's prefix is not reachable through the gateway and left out.
Components of every kind are namespaced ``<service>.<Name>`` and every ``$ref`` (and
discriminator mapping, and security requirement) is rewritten to match, so two services may
both have a ``ProblemDetails`` or a ``Tenant`` without colliding. Operation ids get the same
prefix. Every operation also documents what the gateway itself may answer (429, 502, 503,
504 as problem+json), unless the service documents that status already. Since the gateway
routes by the first path segment, no service can claim another's path, and namespacing makes
component names unique.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import yaml

from servicekit.openapi import GATEWAY_RESPONSES, SERVERS
from servicekit.problems import PROBLEM_MEDIA_TYPE, ProblemDetails

logger = logging.getLogger("gateway.openapi")

_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
_REF = "#/components/"


_GATEWAY_PROBLEM = "gateway.ProblemDetails"


def _gateway_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            PROBLEM_MEDIA_TYPE: {"schema": {"$ref": f"#/components/schemas/{_GATEWAY_PROBLEM}"}}
        },
    }


def _namespaced(service: str, name: str) -> str:
    return f"{service}.{name}"


def _rewrite(node: Any, service: str) -> Any:
    if isinstance(node, dict):
        result: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                result[key] = _rewrite_ref(value, service)
            elif key == "mapping" and isinstance(value, dict):
                result[key] = {
                    k: _rewrite_ref(v, service) if isinstance(v, str) else v
                    for k, v in value.items()
                }
            else:
                result[key] = _rewrite(value, service)
        return result
    if isinstance(node, list):
        return [_rewrite(item, service) for item in node]
    return node


def _rewrite_ref(ref: str, service: str) -> str:
    if not ref.startswith(_REF):
        return ref
    kind, _, name = ref[len(_REF) :].partition("/")
    return f"{_REF}{kind}/{_namespaced(service, name)}"


def _rewrite_security(requirements: list[dict[str, Any]], service: str) -> list[dict[str, Any]]:
    return [{_namespaced(service, k): v for k, v in item.items()} for item in requirements]


def merge(
    contracts: dict[str, dict[str, Any]],
    *,
    title: str,
    version: str,
    description: str,
    well_known_service: str | None = None,
) -> dict[str, Any]:
    """Merge service name -> OpenAPI document into one document; ``well_known_service``'s
    ``/.well-known/...`` paths are kept (the gateway routes them to it)."""
    paths: dict[str, Any] = {}
    webhooks: dict[str, Any] = {}
    components: dict[str, dict[str, Any]] = {}
    tags: dict[str, dict[str, Any]] = {}
    for service, document in sorted(contracts.items()):
        document = _rewrite(document, service)
        for kind, entries in (document.get("components") or {}).items():
            target = components.setdefault(kind, {})
            for name, value in entries.items():
                if kind == "schemas" and isinstance(value, dict):
                    value["title"] = _namespaced(service, value.get("title", name))
                target[_namespaced(service, name)] = value
        default_security = document.get("security")
        for path, item in (document.get("paths") or {}).items():
            reachable = path.startswith(f"/{service}/") or (
                service == well_known_service and path.startswith("/.well-known/")
            )
            if not reachable:
                logger.info("path outside its service prefix left out", extra={"path": path})
                continue
            for method, operation in item.items():
                if method not in _METHODS or not isinstance(operation, dict):
                    continue
                if "operationId" in operation:
                    operation["operationId"] = _namespaced(service, operation["operationId"])
                security = operation.get("security", default_security)
                if security is not None:
                    operation["security"] = _rewrite_security(security, service)
                operation.setdefault("tags", [service])
                responses = operation.setdefault("responses", {})
                # Our services' contracts say so already; a neighbour's may not.
                for status, meaning in GATEWAY_RESPONSES.items():
                    responses.setdefault(status, _gateway_response(meaning))
                operation["responses"] = dict(sorted(responses.items()))
            paths[path] = item
        # The events each service publishes (named by their globally unique CloudEvents type).
        for name, item in (document.get("webhooks") or {}).items():
            for method, operation in item.items():
                if (
                    method in _METHODS
                    and isinstance(operation, dict)
                    and "operationId" in operation
                ):
                    operation["operationId"] = _namespaced(service, operation["operationId"])
            webhooks[name] = item
        for tag in document.get("tags") or []:
            tags.setdefault(tag["name"], tag)
    components.setdefault("schemas", {})[_GATEWAY_PROBLEM] = ProblemDetails.model_json_schema(
        ref_template="#/components/schemas/gateway.{model}"
    )
    for name, schema in components["schemas"][_GATEWAY_PROBLEM].pop("$defs", {}).items():
        components["schemas"][f"gateway.{name}"] = schema
    shared = _shared_problem_schemas(components["schemas"])
    paths, webhooks = _rewrite_refs(paths, shared), _rewrite_refs(webhooks, shared)
    components = _rewrite_refs(components, shared)
    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": description},
        "servers": SERVERS,
        "paths": dict(sorted(paths.items())),
        "components": {kind: dict(sorted(v.items())) for kind, v in sorted(components.items())},
    }
    if webhooks:
        merged["webhooks"] = dict(sorted(webhooks.items()))
    if tags:
        merged["tags"] = list(tags.values())
    return merged


def _untitled(schema: Any) -> Any:
    return {k: v for k, v in schema.items() if k != "title"} if isinstance(schema, dict) else schema


def _shared_problem_schemas(schemas: dict[str, Any]) -> dict[str, str]:
    """Drop each service's copy of a problem schema that equals the gateway's (they all come
    from the kit); answer old ref -> gateway ref."""
    shared: dict[str, str] = {}
    for name in [n for n in schemas if not n.startswith("gateway.")]:
        gateway_name = "gateway." + name.partition(".")[2]
        if gateway_name in schemas:
            theirs = _rewrite_refs(_untitled(schemas[name]), {})
            mine = _untitled(schemas[gateway_name])
            if _strip_namespace(theirs) == _strip_namespace(mine):
                del schemas[name]
                shared[f"{_REF}schemas/{name}"] = f"{_REF}schemas/{gateway_name}"
    return shared


def _strip_namespace(node: Any) -> Any:
    """The schema as the kit wrote it: refs without namespace, no ``default: null`` (FastAPI
    leaves those out of a response schema, pydantic writes them)."""
    if isinstance(node, dict):
        return {
            k: (v.rpartition("/")[0] + "/" + v.rpartition(".")[2])
            if k == "$ref" and isinstance(v, str)
            else _strip_namespace(v)
            for k, v in node.items()
            if not (k == "default" and v is None)
        }
    if isinstance(node, list):
        return [_strip_namespace(item) for item in node]
    return node


def _rewrite_refs(node: Any, refs: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {
            k: refs.get(v, v) if k == "$ref" and isinstance(v, str) else _rewrite_refs(v, refs)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(item, refs) for item in node]
    return node


def load_contracts(directory: Path, services: list[str], version: str) -> dict[str, Any]:
    contracts: dict[str, Any] = {}
    for service in services:
        path = directory / service / f"{version}.yaml"
        if not path.is_file():
            logger.warning("no contract for a service", extra={"upstream": service})
            continue
        contracts[service] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return contracts
