"""create_service_app(): the one way every Rathaus service builds its FastAPI app."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from servicekit.auth.verifier import TokenVerifier
from servicekit.db import Database
from servicekit.events.dispatch import Dispatcher
from servicekit.events.outbox import Outbox
from servicekit.health import ReadinessCheck
from servicekit.health import router as health_router
from servicekit.metrics import install_metrics
from servicekit.openapi import install_openapi
from servicekit.problems import install_problem_handlers
from servicekit.requestid import RequestIdMiddleware
from servicekit.settings import ServiceSettings

LifecycleHook = Callable[[FastAPI], Awaitable[None]]


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    version: str,
    description: str,
    routers: Sequence[APIRouter] = (),
    with_database: bool = True,
    readiness_checks: dict[str, ReadinessCheck] | None = None,
    on_startup: Sequence[LifecycleHook] = (),
    on_shutdown: Sequence[LifecycleHook] = (),
    token_verifier: TokenVerifier | None = None,
    outbox: Outbox | None = None,
    webhooks: Sequence[APIRouter] = (),
) -> FastAPI:
    database = (
        Database(
            settings.database_url,
            pool_size=settings.database_pool_size,
            echo=settings.database_echo,
        )
        if with_database
        else None
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for hook in on_startup:
            await hook(app)
        dispatching = _start_dispatching(app, settings)
        try:
            yield
        finally:
            if dispatching is not None:
                await dispatching.stop()
            for hook in on_shutdown:
                await hook(app)
            await app.state.token_verifier.aclose()
            if database is not None:
                await database.dispose()

    app = FastAPI(
        title=title,
        version=version,
        description=description,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    # Read per request, so tests may swap it (servicekit.testing.tokens does).
    app.state.token_verifier = token_verifier or TokenVerifier.from_settings(settings)
    app.state.database = database
    app.state.outbox = outbox
    app.state.readiness_timeout_s = settings.readiness_timeout_s
    checks: dict[str, ReadinessCheck] = {}
    if database is not None:
        checks["database"] = database.ping
    checks.update(readiness_checks or {})
    app.state.readiness_checks = checks

    install_problem_handlers(app)
    # The routes go onto the app's own router instead of through include_router(): since
    # FastAPI 0.137 an included router stays a node of its own that every request resolves
    # again (a second matching pass and scope bookkeeping, a fifth of the Python calls of a
    # small request). Our routers have nothing to add at inclusion: the prefix, tags,
    # dependencies and schema visibility of an APIRouter are already on each of its routes.
    for router in (health_router, *routers):
        app.router.routes.extend(router.routes)
    # The events the service publishes, documented as OpenAPI webhooks (servicekit.events).
    for router in webhooks:
        app.webhooks.routes.extend(router.routes)
    metrics = install_metrics(app)
    install_openapi(app)
    app.add_middleware(RequestIdMiddleware, metrics=metrics)
    return app


class _Dispatching:
    def __init__(self, dispatcher: Dispatcher, interval_s: float) -> None:
        self.dispatcher = dispatcher
        self.task = asyncio.create_task(dispatcher.run(interval_s))

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.dispatcher.aclose()


def _start_dispatching(app: FastAPI, settings: ServiceSettings) -> _Dispatching | None:
    """Deliver the outbox's events in the background while the app runs (when anyone
    subscribes)."""
    outbox: Outbox | None = app.state.outbox
    if outbox is None or not outbox.subscribers or app.state.database is None:
        return None
    dispatcher = Dispatcher(
        outbox, app.state.database.sessionmaker, registry=app.state.metrics_registry
    )
    return _Dispatching(dispatcher, settings.events_dispatch_interval_s)
