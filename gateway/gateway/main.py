"""create_app(): the gateway's FastAPI app (health, one OpenAPI, docs); create_gateway(): the
ASGI entry that serves the proxied services in front of it."""

from __future__ import annotations

import asyncio
import contextlib
from functools import partial
from typing import Any

from fastapi import FastAPI

from gateway.asgi import Gateway
from gateway.metrics import ProxyMetrics
from gateway.openapi import load_contracts, merge
from gateway.portal import install_portal
from gateway.ratelimit import Limiter, MemoryLimiter, RedisLimiter
from gateway.settings import GatewaySettings
from gateway.upstreams import Upstreams
from servicekit.app import create_service_app
from servicekit.health import ReadinessCheck

TITLE = "Rathaus API"
DESCRIPTION = (
    "The one entry for frontends and partner authorities: every service's API behind one "
    "gateway. Component names carry their service as a prefix (e.g. identity.Tenant)."
)


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = with_derived_defaults(settings or GatewaySettings())
    upstreams = Upstreams(
        settings.upstream_services(),
        eject_s=settings.replica_eject_s,
        failure_threshold=settings.breaker_failures,
        open_s=settings.breaker_open_s,
        readiness_timeout_s=settings.readiness_timeout_s,
    )
    limiter: Limiter = (
        RedisLimiter(
            settings.redis_url,
            prefix=settings.rate_limit_prefix,
            retry_s=settings.rate_limit_retry_s,
        )
        if settings.redis_url
        else MemoryLimiter()
    )
    checks: dict[str, ReadinessCheck] = {
        name: partial(upstreams.ready, upstream) for name, upstream in upstreams.by_name.items()
    }
    tasks: list[asyncio.Task[None]] = []

    async def start_health_checks(_app: FastAPI) -> None:
        if settings.health_interval_s > 0:
            tasks.append(asyncio.create_task(upstreams.health_loop(settings.health_interval_s)))

    async def close_upstreams(_app: FastAPI) -> None:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await upstreams.close(asyncio.get_running_loop())
        await limiter.aclose()

    app = create_service_app(
        settings,
        title="Rathaus API Gateway",
        version="1.0.0",
        description="The one entry for frontends and partner authorities.",
        with_database=False,
        readiness_checks=checks,
        on_startup=[start_health_checks],
        on_shutdown=[close_upstreams],
    )
    app.state.upstreams = upstreams
    app.state.limiter = limiter

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            contracts = load_contracts(
                settings.contracts_dir, list(upstreams.by_name), settings.contract_version
            )
            app.openapi_schema = merge(
                contracts,
                title=TITLE,
                version="1",
                description=DESCRIPTION,
                well_known_service=settings.well_known_service,
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    if settings.portal_dir is not None:
        install_portal(app, settings.portal_dir)
    return app


def with_derived_defaults(settings: GatewaySettings) -> GatewaySettings:
    """Unless configured, the token keys come from the identity service the gateway routes to."""
    identity = settings.upstream_services().get("identity")
    if "auth_jwks_url" in settings.model_fields_set or not identity:
        return settings
    return settings.model_copy(update={"auth_jwks_url": f"{identity[0]}/identity/v1/jwks"})


def create_gateway(settings: GatewaySettings | None = None) -> Gateway:
    """The ASGI app to serve: the raw proxy path, with the FastAPI app behind it for the rest.

    Proxied requests skip FastAPI, its middleware and the kit's middleware entirely; lifespan
    and every other path go to the FastAPI app (``gateway.app``).
    """
    settings = settings or GatewaySettings()
    app = create_app(settings)
    return Gateway(
        app,
        settings=settings,
        upstreams=app.state.upstreams,
        limiter=app.state.limiter,
        verifier=lambda: getattr(app.state, "token_verifier", None),
        metrics=ProxyMetrics(app.state.metrics_registry, app.state.upstreams, app.state.limiter),
        tracer=app.state.tracing.tracer("gateway"),
    )
