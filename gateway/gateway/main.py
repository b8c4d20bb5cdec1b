from __future__ import annotations

from functools import partial

from fastapi import FastAPI

from gateway.routing import router
from gateway.settings import GatewaySettings
from gateway.upstreams import Upstreams
from servicekit.app import create_service_app
from servicekit.health import ReadinessCheck


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    upstreams = Upstreams(
        settings.upstreams(),
        timeout_s=settings.upstream_timeout_s,
        connect_timeout_s=settings.upstream_connect_timeout_s,
    )
    checks: dict[str, ReadinessCheck] = {
        name: partial(upstreams.ready, upstream) for name, upstream in upstreams.by_name.items()
    }

    async def close_upstreams(_app: FastAPI) -> None:
        await upstreams.close()

    app = create_service_app(
        settings,
        title="Rathaus API Gateway",
        version="1.0.0",
        description="The one entry for frontends and partner authorities.",
        routers=[router],
        with_database=False,
        readiness_checks=checks,
        on_shutdown=[close_upstreams],
    )
    app.state.upstreams = upstreams
    return app
