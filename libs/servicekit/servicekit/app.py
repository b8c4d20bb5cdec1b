"""create_service_app(): the one way every Rathaus service builds its FastAPI app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from servicekit.auth.verifier import TokenVerifier
from servicekit.db import Database
from servicekit.events.dispatch import Dispatcher
from servicekit.events.outbox import Outbox
from servicekit.health import ReadinessCheck
from servicekit.health import router as health_router
from servicekit.mail import Mailbox, MailDispatcher, MailSettings
from servicekit.metrics import install_metrics
from servicekit.openapi import install_openapi
from servicekit.problems import install_problem_handlers
from servicekit.requestid import RequestIdMiddleware
from servicekit.settings import ServiceSettings
from servicekit.tracing import Tracing

LifecycleHook = Callable[[FastAPI], Awaitable[None]]
logger = logging.getLogger("servicekit.app")


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
    mailbox: Mailbox | None = None,
    webhooks: Sequence[APIRouter] = (),
    tracing: Tracing | None = None,
) -> FastAPI:
    """The service's app. ``tracing`` is the service's own (:meth:`Tracing.of` its settings,
    when not given), for a service that traces clients of its own with it."""
    tracing = tracing or Tracing.of(settings)
    if mailbox is not None and not isinstance(settings, MailSettings):
        raise TypeError("a service with a mailbox needs settings derived from MailSettings")
    database = (
        Database(
            settings.database_url,
            pool_size=settings.database_pool_size,
            echo=settings.database_echo,
        )
        if with_database
        else None
    )
    if database is not None:
        tracing.instrument_engine(database.engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for hook in on_startup:
            await hook(app)
        dispatching = _start_dispatching(app, settings)
        mailing = _start_mailing(app, settings)
        try:
            yield
        finally:
            for background in (dispatching, mailing):
                if background is not None:
                    await background.stop()
            for hook in on_shutdown:
                await hook(app)
            await app.state.token_verifier.aclose()
            if database is not None:
                await database.dispose()
            await tracing.shutdown()

    app = FastAPI(
        title=title,
        version=version,
        description=description,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.tracing = tracing
    # Read per request, so tests may swap it (servicekit.testing.tokens does).
    app.state.token_verifier = token_verifier or TokenVerifier.from_settings(
        settings, tracing=tracing
    )
    app.state.database = database
    app.state.outbox = outbox
    app.state.mailbox = mailbox
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
    # Outermost: the server span covers the kit's middleware too (its access log line).
    tracing.instrument_app(app)
    return app


class _Dispatching:
    """A background loop of the app (events, mail), cancelled when the app stops."""

    def __init__(
        self,
        loop: Coroutine[None, None, None],
        close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.task = asyncio.create_task(loop)
        self.close = close

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        if self.close is not None:
            await self.close()


def _start_dispatching(app: FastAPI, settings: ServiceSettings) -> _Dispatching | None:
    """Deliver the outbox's events in the background while the app runs (when anyone
    subscribes)."""
    outbox: Outbox | None = app.state.outbox
    if outbox is None or not outbox.subscribers or app.state.database is None:
        return None
    dispatcher = Dispatcher(
        outbox,
        app.state.database.sessionmaker,
        policy=settings.outbound_policy(),
        registry=app.state.metrics_registry,
        tracing=app.state.tracing,
    )
    return _Dispatching(dispatcher.run(settings.events_dispatch_interval_s), dispatcher.aclose)


def _start_mailing(app: FastAPI, settings: ServiceSettings) -> _Dispatching | None:
    """Send the mailbox's mails in the background while the app runs (when an SMTP server
    is configured; without one, in development, they wait in the outbox)."""
    mailbox: Mailbox | None = app.state.mailbox
    if mailbox is None or app.state.database is None:
        return None
    assert isinstance(settings, MailSettings)  # create_service_app checked it
    dispatcher = MailDispatcher.of_service(
        settings,
        mailbox.model,
        app.state.database.sessionmaker,
        registry=app.state.metrics_registry,
    )
    if dispatcher is None:
        logger.warning("no SMTP server configured (MAIL_SMTP_HOST): mail stays in the outbox")
        return None
    return _Dispatching(dispatcher.run(settings.mail_dispatch_interval_s))
