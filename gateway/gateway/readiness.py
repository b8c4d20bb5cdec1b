"""``/readyz`` of the gateway: ready while every route class it serves has a ready service.

A route class (``login``, ``uploads``, ...) is served by the services its prefixes name; the
catch-all by any of them. The gateway answers 503 as soon as one route class has no service with
a ready replica: a load balancer then sends those requests to a gateway replica that can still
serve them (or, when none can, every replica says so). While some service is down but every
route class still has one (the catch-all, say), the answer is 200 ``degraded``. The body says
per service how many replicas are ready and the state of its breaker, and per route class
whether it can be served.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from starlette.types import Scope, Send

from gateway.errors import send_problem
from gateway.settings import RouteClass
from gateway.tracing import request_id as make_request_id
from gateway.upstreams import Upstreams
from servicekit.problems import ServiceUnavailable


def route_services(
    route_classes: Sequence[RouteClass], services: Iterable[str]
) -> dict[str, frozenset[str]]:
    """The services each route class sends requests to (classes that reach none are left out)."""
    known = frozenset(services)
    served: dict[str, frozenset[str]] = {}
    for route in route_classes:
        if not route.prefixes:
            names = known
        else:
            firsts = {prefix.strip("/").split("/", 1)[0] for prefix in route.prefixes}
            names = known if "*" in firsts else known & firsts
        if names:
            served[route.name] = served.get(route.name, frozenset()) | names
    return served


async def answer_readiness(
    scope: Scope,
    send: Send,
    upstreams: Upstreams,
    *,
    routes: dict[str, frozenset[str]],
    timeout_s: float,
    security: Iterable[tuple[bytes, bytes]],
) -> None:
    services = await upstreams.readiness(timeout_s)
    ready = {name for name, state in services.items() if state["status"] == "ok"}
    classes = {name: "ok" if names & ready else "unavailable" for name, names in routes.items()}
    checks = {name: state["status"] for name, state in services.items()}
    incoming = next((v for k, v in scope["headers"] if k == b"x-request-id"), None)
    rid = make_request_id(incoming)
    headers = [(b"cache-control", b"no-store"), (b"x-request-id", rid), *security]
    unserved = sorted(name for name, state in classes.items() if state != "ok")
    if unserved or (services and not ready):
        problem = ServiceUnavailable(
            f"No ready service for: {', '.join(unserved) or 'any request'}.",
            checks=checks,
            upstreams=services,
            route_classes=classes,
        )
        await send_problem(send, problem, instance="/readyz", request_id=rid, headers=headers)
        return
    state = "ok" if len(ready) == len(services) else "degraded"
    document: dict[str, Any] = {
        "status": state,
        "checks": checks,
        "upstreams": services,
        "route_classes": classes,
    }
    body = json.dumps(document).encode()
    answer = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *headers,
    ]
    await send({"type": "http.response.start", "status": 200, "headers": answer})
    await send({"type": "http.response.body", "body": body})
