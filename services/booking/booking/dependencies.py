"""The feature services wired to the request's session, as ``Annotated`` dependencies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from booking.availability.cache import AvailabilityCache
from booking.availability.service import Planner
from booking.bookings.gate import SeatGate
from booking.bookings.repository import BookingRepository
from booking.bookings.service import Bookings
from booking.catalogue.repository import ServiceRepository
from booking.db import SessionDep
from booking.hours.repository import HoursRepository
from booking.idempotency.service import Idempotency
from booking.offices.repository import OfficeRepository
from booking.settings import BookingSettings
from booking.visits.repository import VisitRepository
from booking.visits.service import Visits
from servicekit.tenancy import AgsPath


def settings_of(request: Request) -> BookingSettings:
    settings: BookingSettings = request.app.state.settings
    return settings


def cache_of(request: Request) -> AvailabilityCache:
    cache: AvailabilityCache = request.app.state.availability_cache
    return cache


def gate_of(request: Request) -> SeatGate:
    gate: SeatGate = request.app.state.seat_gate
    return gate


async def _cache(request: Request) -> AvailabilityCache:
    return cache_of(request)


CacheDep = Annotated[AvailabilityCache, Depends(_cache)]


def planner_for(session: AsyncSession, request: Request) -> Planner:
    return Planner(
        ServiceRepository(session),
        OfficeRepository(session),
        HoursRepository(session),
        BookingRepository(session),
        cache_of(request),
        max_services=settings_of(request).max_services_per_booking,
    )


async def forget_catalogue_on_write(request: Request, ags: AgsPath) -> AsyncIterator[None]:
    """Router dependency: a write to the tenant's catalogue, offices or hours empties its cache."""
    writes = request.method not in {"GET", "HEAD", "OPTIONS"}
    if writes:
        cache_of(request).forget_catalogue(ags)
    yield
    if writes:
        cache_of(request).forget_catalogue(ags)


async def _bookings(session: SessionDep, request: Request) -> Bookings:
    return Bookings(
        BookingRepository(session),
        planner_for(session, request),
        OfficeRepository(session),
        ServiceRepository(session),
        settings_of(request),
        gate_of(request),
        request.app.state.outbox,
    )


BookingsDep = Annotated[Bookings, Depends(_bookings)]


async def _idempotency(request: Request) -> Idempotency:
    settings = settings_of(request)
    return Idempotency(
        request.app.state.database,
        ttl=timedelta(hours=settings.idempotency_ttl_hours),
        stale_after=timedelta(seconds=settings.idempotency_stale_seconds),
    )


IdempotencyDep = Annotated[Idempotency, Depends(_idempotency)]


async def _visits(session: SessionDep, bookings: BookingsDep, request: Request) -> Visits:
    return Visits(VisitRepository(session), bookings, settings_of(request))


VisitsDep = Annotated[Visits, Depends(_visits)]


@asynccontextmanager
async def reading(request: Request) -> AsyncIterator[Planner]:
    """A planner on a session of its own, for answers that only read and are cached: the
    session is opened on a cache miss only, so the cached path sets up no database work."""
    async with request.app.state.database.sessionmaker() as session:
        yield planner_for(session, request)
