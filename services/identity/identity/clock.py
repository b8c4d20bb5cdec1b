"""The service's sense of time, injectable so tests advance it instead of sleeping."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Protocol, runtime_checkable

from fastapi import Depends

from servicekit.db import utcnow
from servicekit.dependencies import app_state


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return utcnow()


ClockDep = Annotated[Clock, Depends(app_state("clock", Clock))]
