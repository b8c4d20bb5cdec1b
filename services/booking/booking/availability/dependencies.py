"""Availability's dependencies: the process's cache and the answers cached in it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from booking.availability.cache import AvailabilityCache
from booking.availability.service import CachedAnswers
from servicekit.dependencies import app_state
from servicekit.tenancy import AgsPath

CacheDep = Annotated[AvailabilityCache, Depends(app_state("availability_cache", AvailabilityCache))]

CachedAnswersDep = Annotated[CachedAnswers, Depends(app_state("cached_answers", CachedAnswers))]
"""For routes answered from the cache: their only dependency, so a hit costs nothing more."""


async def forget_catalogue_on_write(
    request: Request, ags: AgsPath, cache: CacheDep
) -> AsyncIterator[None]:
    """Router dependency: a write to the tenant's catalogue, offices or hours empties its cache."""
    writes = request.method not in {"GET", "HEAD", "OPTIONS"}
    if writes:
        cache.forget_catalogue(ags)
    yield
    if writes:
        cache.forget_catalogue(ags)
