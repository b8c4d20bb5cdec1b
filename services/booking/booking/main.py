from __future__ import annotations

import gc
from datetime import timedelta

from fastapi import FastAPI

from booking import models  # noqa: F401 - registers every table on Base.metadata
from booking.availability.cache import AvailabilityCache
from booking.availability.router import router as availability_router
from booking.availability.service import CachedAnswers
from booking.bookings.dependencies import BookingDesk
from booking.bookings.gate import SeatGate
from booking.bookings.mails import BookingMails
from booking.bookings.reminders import start_reminders, stop_reminders
from booking.bookings.router import router as bookings_router
from booking.botcheck.models import UsedChallenge
from booking.catalogue.router import router as catalogue_router
from booking.cooperation.router import router as cooperation_router
from booking.cooperation.tokens import PartnerTokens, partner_sealer
from booking.events.models import outbox_of
from booking.events.models import webhooks as event_webhooks
from booking.events.router import router as events_router
from booking.hours.router import router as hours_router
from booking.idempotency.service import Idempotency
from booking.mail.models import OutboxMail
from booking.offices.router import router as offices_router
from booking.races import install_race_handlers
from booking.retention.router import router as retention_router
from booking.settings import BookingSettings
from booking.visits.router import router as visits_router
from booking.waitlist.lapses import start_lapses, stop_lapses
from booking.waitlist.mails import WaitlistMails
from booking.waitlist.router import router as waitlist_router
from booking.waitlist.service import WaitlistDesk
from servicekit.app import create_service_app
from servicekit.botcheck import Botcheck, botcheck_router
from servicekit.db import Database
from servicekit.mail import Mailbox, MailTemplates
from servicekit.mail.router import mail_router
from servicekit.outbound.client import outbound_client


async def _freeze_startup_objects(_app: FastAPI) -> None:
    # Everything built at startup (metadata, models, routes) lives as long as the process:
    # keeping it out of the collector's generations keeps full collections short, which
    # otherwise show up as tail latency under load.
    gc.collect()
    gc.freeze()


async def _close_partner_http(app: FastAPI) -> None:
    await app.state.partner_tokens.http.aclose()


def create_app(settings: BookingSettings | None = None) -> FastAPI:
    settings = settings or BookingSettings()
    outbox = outbox_of(settings)
    mailbox = Mailbox.of_service(
        settings,
        OutboxMail,
        MailTemplates.of_package("booking", override=settings.mail_templates_dir),
    )
    app = create_service_app(
        settings,
        title="Rathaus Booking",
        version="1.0.0",
        description=(
            "Online appointment booking for citizen services with digital pre-information: "
            "catalogue, offices and opening hours, availability, holds, bookings and their "
            "checklists; on the day, check-in, the office's queue and the KPIs."
        ),
        on_startup=[_freeze_startup_objects, start_reminders, start_lapses],
        on_shutdown=[stop_lapses, stop_reminders, _close_partner_http],
        routers=[
            catalogue_router,
            offices_router,
            hours_router,
            availability_router,
            bookings_router,
            visits_router,
            waitlist_router,
            retention_router,
            events_router,
            cooperation_router,
            botcheck_router("/booking/v1"),
            mail_router("/booking/v1"),
        ],
        outbox=outbox,
        webhooks=[event_webhooks],
        mailbox=mailbox,
    )
    database: Database = app.state.database
    cache = AvailabilityCache(
        snapshot_seconds=settings.catalogue_cache_seconds,
        answer_seconds=settings.availability_cache_seconds,
    )
    app.state.availability_cache = cache
    app.state.cached_answers = CachedAnswers(
        cache, database, max_services=settings.max_services_per_booking
    )
    app.state.waitlist_desk = WaitlistDesk(WaitlistMails(mailbox, settings))
    app.state.botcheck = Botcheck(settings, UsedChallenge)
    app.state.booking_desk = BookingDesk(
        settings,
        SeatGate(settings.full_slot_memory_seconds),
        outbox,
        cache,
        BookingMails(mailbox, settings),
        app.state.waitlist_desk,
        app.state.botcheck,
    )
    app.state.idempotency = Idempotency(
        database,
        ttl=timedelta(hours=settings.idempotency_ttl_hours),
        stale_after=timedelta(seconds=settings.idempotency_stale_seconds),
    )
    # Asks partner municipalities (cooperation): addresses checked and pinned, no redirects.
    app.state.partner_tokens = PartnerTokens(
        app.state.tracing.instrument_client(
            outbound_client(
                settings.outbound_policy(),
                timeout_s=settings.partner_timeout_s,
                max_connections=50,
            )
        ),
        partner_sealer(settings),
    )
    install_race_handlers(app)
    return app
