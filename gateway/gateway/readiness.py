"""``/readyz`` of the gateway: ready while at least one service behind it is.

One service down must not take the gateway (and with it every other service) out of a load
balancer: 200 ``ok`` when every service is ready, 200 ``degraded`` while at least one is, 503
only when none is. The body says which service is in which state.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from starlette.types import Scope, Send

from gateway.errors import send_problem
from gateway.tracing import request_id as make_request_id
from gateway.upstreams import Upstreams
from servicekit.problems import ServiceUnavailable


async def answer_readiness(
    scope: Scope,
    send: Send,
    upstreams: Upstreams,
    *,
    timeout_s: float,
    security: Iterable[tuple[bytes, bytes]],
) -> None:
    checks = await upstreams.readiness(timeout_s)
    ready = [name for name, state in checks.items() if state == "ok"]
    incoming = next((v for k, v in scope["headers"] if k == b"x-request-id"), None)
    rid = make_request_id(incoming)
    headers = [(b"cache-control", b"no-store"), (b"x-request-id", rid), *security]
    if not ready and checks:
        problem = ServiceUnavailable("No service behind the gateway is ready.", checks=checks)
        await send_problem(send, problem, instance="/readyz", request_id=rid, headers=headers)
        return
    state = "ok" if len(ready) == len(checks) else "degraded"
    document: dict[str, Any] = {"status": state, "checks": checks}
    body = json.dumps(document).encode()
    answer = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *headers,
    ]
    await send({"type": "http.response.start", "status": 200, "headers": answer})
    await send({"type": "http.response.body", "body": body})
