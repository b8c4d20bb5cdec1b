"""/livez answers while the process runs; /readyz only while its dependencies answer.

A readiness check returns None (``ok``), raises (``unavailable``: the service is not ready, 503),
or returns a note: the service is ready without that dependency (one it can wait for, e.g. a
malware scanner whose documents stay pending meanwhile), and /readyz answers 200 ``degraded``
with the note as that check's state.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from pydantic import BaseModel

from servicekit.problems import ProblemDetails, ServiceUnavailable

ReadinessCheck = Callable[[], Awaitable[str | None]]

logger = logging.getLogger("servicekit.health")


class Health(BaseModel):
    status: str
    checks: dict[str, str] = {}


router = APIRouter(tags=["health"], include_in_schema=False)


@router.get("/livez", response_model=Health, summary="Liveness")
async def livez() -> Health:
    """The process is up and serving."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    summary="Readiness",
    responses={503: {"model": ProblemDetails, "description": "A dependency is unreachable"}},
)
async def readyz(request: Request) -> Health:
    """The service and everything it depends on (its database, ...) answer."""
    checks: dict[str, ReadinessCheck] = request.app.state.readiness_checks
    timeout: float = request.app.state.readiness_timeout_s
    results: dict[str, str] = {}
    failed = degraded = False
    for name, check in checks.items():
        try:
            note = await asyncio.wait_for(check(), timeout=timeout)
            results[name] = note or "ok"
            degraded = degraded or bool(note)
        except Exception as exc:  # any failure of a dependency means "not ready"
            logger.warning(
                "readiness check failed", extra={"check": name, "error": type(exc).__name__}
            )
            results[name] = "unavailable"
            failed = True
    if failed:
        raise ServiceUnavailable("A dependency is unreachable.", checks=results)
    return Health(status="degraded" if degraded else "ok", checks=results)
