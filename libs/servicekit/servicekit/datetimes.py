"""Dates and times a request may name: timezone-aware, and within years a service can compute.

Python's ``datetime`` ends at the year 9999 and starts at the year 1: a request for
``9999-12-31T23:00-05:00``, or for the day after ``9999-12-31``, overflows the moment it is
turned into UTC or a day is added, which would answer 500. Every date and datetime a request
carries (body, query or path) uses these types instead, so such a value is a 422 before any
code runs::

    start: RequestDatetime
    day: Annotated[RequestDate, Query(alias="date")]

The bounds are far from any appointment, closure or report, and far from the overflow.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import AwareDatetime, Field

EARLIEST_DATE = date(1970, 1, 1)
LATEST_DATE = date(2199, 12, 31)
EARLIEST_DATETIME = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_DATETIME = datetime(2200, 1, 1, tzinfo=UTC)

RequestDate = Annotated[date, Field(ge=EARLIEST_DATE, le=LATEST_DATE)]
"""A calendar day from 1970-01-01 to 2199-12-31."""

RequestDatetime = Annotated[AwareDatetime, Field(ge=EARLIEST_DATETIME, lt=LATEST_DATETIME)]
"""A timezone-aware moment from 1970-01-01T00:00Z to before 2200-01-01T00:00Z."""

__all__ = [
    "EARLIEST_DATE",
    "EARLIEST_DATETIME",
    "LATEST_DATE",
    "LATEST_DATETIME",
    "RequestDate",
    "RequestDatetime",
]
