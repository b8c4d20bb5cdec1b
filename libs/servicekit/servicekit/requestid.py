"""X-Request-ID: accepted from the caller when well-formed, created otherwise, echoed back.

The id lives in a context variable for the duration of the request so that every log line
carries it (see ``servicekit.logs``) and outgoing calls can pass it on; so does the caller's
W3C ``traceparent`` (``servicekit.tracing.traceparent_var``), whose trace id every log line
carries too.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from contextvars import ContextVar

from sqlalchemy.exc import DBAPIError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit.metrics import UNRECORDED, RequestMetrics
from servicekit.problems import (
    PROBLEM_MEDIA_TYPE,
    DependencyUnavailable,
    Problem,
    internal_error_body,
)
from servicekit.tracing import traceparent_var, valid_traceparent

REQUEST_ID_HEADER = "x-request-id"
RETRY_AFTER_S = b"5"
_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

access_logger = logging.getLogger("servicekit.access")
error_logger = logging.getLogger("servicekit.errors")


def current_request_id() -> str | None:
    return request_id_var.get()


def _is_unreachable(error: BaseException) -> bool:
    """A dependency out of reach: the database refused or lost the connection, a peer timed out."""
    if isinstance(error, DBAPIError):
        return bool(error.connection_invalidated)
    return isinstance(error, ConnectionError | TimeoutError)


def _route_template(scope: Scope) -> str | None:
    path = getattr(scope.get("route"), "path", None)
    return str(path) if path else None


class RequestIdMiddleware:
    """Pure ASGI middleware: request id in, request id out, one access log line per request
    (and one observation of the request metrics, when given)."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics | None = None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = traceparent = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
            elif name == b"traceparent":
                traceparent = valid_traceparent(value.decode("latin-1"))
        request_id = incoming if incoming and _VALID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        # For the log lines and the outbox when no span of ours is current (tracing off).
        trace_token = traceparent_var.set(traceparent)
        status = 500
        started = time.perf_counter()
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as error:
            # The last line of defence: log with the request id, answer a bare problem (no
            # stack trace reaches the client) and do not re-raise into the server. A database
            # or another dependency out of reach is a 503 the client may retry, not a bug.
            unreachable = _is_unreachable(error)
            if unreachable:
                error_logger.warning("dependency unreachable: %s", error.__class__.__name__)
            else:
                error_logger.exception("unhandled error")
            problem = DependencyUnavailable if unreachable else Problem
            status = problem.status
            if scope["type"] != "http" or response_started:
                raise
            body = json.dumps(
                internal_error_body(scope.get("path", ""), request_id, problem)
            ).encode()
            headers = [
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode("latin-1")),
            ]
            if unreachable:
                headers.append((b"retry-after", RETRY_AFTER_S))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        finally:
            if scope["type"] == "http":
                seconds = time.perf_counter() - started
                route = _route_template(scope)
                method = str(scope.get("method"))
                if self.metrics is not None:
                    self.metrics.observe(method, route, status, seconds)
                # A probe that succeeds is only worth a line when debugging: load balancers
                # and the gateway ask every few seconds.
                probe = route in UNRECORDED and status < 400
                access_logger.log(
                    logging.DEBUG if probe else logging.INFO,
                    "request",
                    extra={
                        "method": method,
                        # Unmatched paths are not logged verbatim: they may carry tokens or
                        # personal data.
                        "route": route or "<unmatched>",
                        "status": status,
                        "duration_ms": round(seconds * 1000, 2),
                    },
                )
            request_id_var.reset(token)
            traceparent_var.reset(trace_token)
