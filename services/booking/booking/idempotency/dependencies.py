"""Idempotency's dependency: the keys of the requests that create something."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from booking.idempotency.service import Idempotency
from servicekit.dependencies import app_state

IdempotencyDep = Annotated[Idempotency, Depends(app_state("idempotency", Idempotency))]
"""Built once at startup (it holds the database and the settings' durations): holds and
confirmations, the hot path, solve it as one dependency."""
