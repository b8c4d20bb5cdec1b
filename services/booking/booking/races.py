"""Database errors that mean "someone else was faster", answered as problems instead of 500.

Capacity itself is decided by seat-claim inserts (see ``bookings.repository``); these handlers
cover what the database may still report under contention: a deadlock or serialization
failure on PostgreSQL, a unique key taken by a concurrent insert, or SQLite's write lock not
becoming free in time.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from servicekit.problems import Conflict, Problem, ServiceUnavailable, problem_response

RETRYABLE_SQLSTATES = {"40001", "40P01"}


class ConcurrentUpdate(Conflict):
    type_slug = "concurrent-update"
    title = "A concurrent request changed the same data; retry"


class DatabaseBusy(ServiceUnavailable):
    type_slug = "database-busy"
    title = "The database is busy; retry shortly"


def _sqlstate(error: DBAPIError) -> str | None:
    original = error.orig
    for attribute in ("sqlstate", "pgcode"):
        value = getattr(original, attribute, None)
        if isinstance(value, str):
            return value
    cause = getattr(original, "__cause__", None)
    value = getattr(cause, "sqlstate", None)
    return value if isinstance(value, str) else None


def problem_for(error: DBAPIError) -> Problem | None:
    if isinstance(error, IntegrityError):
        return ConcurrentUpdate()
    if _sqlstate(error) in RETRYABLE_SQLSTATES:
        return ConcurrentUpdate()
    if isinstance(error, OperationalError) and "database is locked" in str(error.orig):
        return DatabaseBusy(headers={"Retry-After": "1"})
    return None


async def _handle(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    problem = problem_for(exc)
    if problem is None:
        raise exc
    return problem_response(problem.body(request), problem.status, problem.headers)


def install_race_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DBAPIError, _handle)
