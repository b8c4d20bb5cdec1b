from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from servicekit.db import UTCDateTime
from servicekit.settings import Environment, ServiceSettings


def test_sqlite_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="insecure settings refused in production"):
        ServiceSettings(environment=Environment.PRODUCTION, database_url="sqlite+aiosqlite:///x.db")


def test_postgresql_is_accepted_in_production() -> None:
    settings = ServiceSettings(
        environment=Environment.PRODUCTION, database_url="postgresql+asyncpg://db/rathaus"
    )

    assert settings.environment == "production"


def test_settings_are_read_from_the_environment_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATHAUS_PORT", "9123")

    assert ServiceSettings().port == 9123


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        UTCDateTime().process_bind_param(datetime(2026, 3, 29, 2, 30), dialect=None)  # type: ignore[arg-type]


def test_datetimes_are_stored_in_utc_and_read_back_aware() -> None:
    column = UTCDateTime()
    berlin_summer = timezone(timedelta(hours=2))

    stored = column.process_bind_param(datetime(2026, 7, 1, 10, 0, tzinfo=berlin_summer), None)  # type: ignore[arg-type]
    read = column.process_result_value(datetime(2026, 7, 1, 8, 0), None)  # type: ignore[arg-type]

    assert stored == datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
    assert read is not None
    assert read.tzinfo is UTC
