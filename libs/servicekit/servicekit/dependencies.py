"""The kit's request dependencies: one idiom for wiring every service.

Routers never read ``request.app.state``; they declare what they need as ``Annotated``
aliases, after FastAPI's own idiom::

    SessionDep           the request's session: commits once after the route, or rolls back
    DatabaseDep          the app's :class:`~servicekit.db.Database`, for work on sessions of
                         its own (after the response, a stream that must not hold a connection)
    OutboxDep            the app's event outbox (:mod:`servicekit.events`)
    MailboxDep           the app's mail outbox (:mod:`servicekit.mail`)
    ClientAddress        the caller's address (None when unknown), for limits and audits
    app_state(name, T)   a dependency for a long-lived object the app keeps as
                         ``app.state.<name>`` (a cache, an HTTP client, the settings)

A service declares its settings once, beside its settings class::

    SettingsDep = Annotated[BookingSettings, Depends(app_state("settings", BookingSettings))]

and each feature exports the aliases of its own services in ``<feature>/dependencies.py``
(``BookingsDep``, ``RoomsDep``, ...), built from these. See ``docs/architecture.md``.

Dependencies are coroutines even where they do not await: FastAPI runs a plain function in a
worker thread, a trip per dependency and request that costs more than the function.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from servicekit.db import Database, SessionDep
from servicekit.events import Outbox
from servicekit.mail import Mailbox

__all__ = [
    "ClientAddress",
    "DatabaseDep",
    "MailboxDep",
    "OutboxDep",
    "SessionDep",
    "app_state",
    "client_address",
]


def app_state(name: str, kind: Any) -> Callable[[HTTPConnection], Awaitable[Any]]:
    """A dependency answering ``app.state.<name>``, checked to be a ``kind`` (for HTTP routes
    and WebSocket routes alike).

    ``kind`` is a class or a ``runtime_checkable`` protocol (a blob store, a clock); the type a
    route sees is the one its ``Annotated`` alias declares.
    """

    async def dependency(connection: HTTPConnection) -> Any:
        value = getattr(connection.app.state, name, None)
        if not isinstance(value, kind):
            raise RuntimeError(f"app.state.{name} is not a {kind.__name__}: wired at startup?")
        return value

    dependency.__name__ = f"app_state_{name}"
    return dependency


DatabaseDep = Annotated[Database, Depends(app_state("database", Database))]
OutboxDep = Annotated[Outbox, Depends(app_state("outbox", Outbox))]
MailboxDep = Annotated[Mailbox, Depends(app_state("mailbox", Mailbox))]


async def client_address(request: Request) -> str | None:
    """The direct peer's address: uvicorn rewrites it from ``X-Forwarded-For`` only for the
    proxies it trusts (the gateway), so a client cannot choose it by sending that header."""
    return request.client.host if request.client else None


ClientAddress = Annotated[str | None, Depends(client_address)]
"""Where the caller acts from (None when the server cannot tell): per-address limits and the
audit trail."""
