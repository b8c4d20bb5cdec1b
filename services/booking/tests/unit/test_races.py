from __future__ import annotations

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from booking.races import ConcurrentUpdate, DatabaseBusy, problem_for


class DriverError(Exception):
    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def test_deadlock_and_serialization_failures_are_409() -> None:
    for state in ("40P01", "40001"):
        error = DBAPIError("UPDATE ...", {}, DriverError("deadlock", state))
        assert isinstance(problem_for(error), ConcurrentUpdate)


def test_unique_key_taken_concurrently_is_409() -> None:
    error = IntegrityError("INSERT ...", {}, DriverError("duplicate key", "23505"))
    assert isinstance(problem_for(error), ConcurrentUpdate)


def test_sqlite_write_lock_timeout_is_503_with_retry_after() -> None:
    problem = problem_for(OperationalError("BEGIN", {}, DriverError("database is locked")))
    assert isinstance(problem, DatabaseBusy)
    assert problem.headers["Retry-After"] == "1"


def test_other_database_errors_stay_internal() -> None:
    assert problem_for(DBAPIError("SELECT", {}, DriverError("syntax error", "42601"))) is None
