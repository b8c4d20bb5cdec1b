"""The feature services wired to the request's session, as ``Annotated`` dependencies."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request

from booking.availability.service import Planner
from booking.bookings.repository import BookingRepository
from booking.bookings.service import Bookings
from booking.catalogue.repository import ServiceRepository
from booking.db import SessionDep
from booking.hours.repository import HoursRepository
from booking.idempotency.service import Idempotency
from booking.offices.repository import OfficeRepository
from booking.settings import BookingSettings


def settings_of(request: Request) -> BookingSettings:
    settings: BookingSettings = request.app.state.settings
    return settings


def _planner(session: SessionDep, request: Request) -> Planner:
    return Planner(
        ServiceRepository(session),
        OfficeRepository(session),
        HoursRepository(session),
        BookingRepository(session),
        max_services=settings_of(request).max_services_per_booking,
    )


PlannerDep = Annotated[Planner, Depends(_planner)]


def _bookings(session: SessionDep, planner: PlannerDep, request: Request) -> Bookings:
    return Bookings(
        BookingRepository(session),
        planner,
        OfficeRepository(session),
        ServiceRepository(session),
        settings_of(request),
    )


BookingsDep = Annotated[Bookings, Depends(_bookings)]


def _idempotency(request: Request) -> Idempotency:
    settings = settings_of(request)
    return Idempotency(
        request.app.state.database,
        ttl=timedelta(hours=settings.idempotency_ttl_hours),
        stale_after=timedelta(seconds=settings.idempotency_stale_seconds),
    )


IdempotencyDep = Annotated[Idempotency, Depends(_idempotency)]
