"""A clock for tests of time-driven code (retries, pauses, expiry): it moves only when told."""

from __future__ import annotations

from datetime import datetime

from servicekit.db import utcnow


class ManualClock:
    """Pass as ``clock=``; it stands at the time it was made until a test moves ``now``."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now
