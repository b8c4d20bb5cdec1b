from __future__ import annotations

import hmac
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol, cast
from zoneinfo import ZoneInfo

from booking.access import is_citizen_of
from booking.availability.cache import AvailabilityCache, OfficeInfo, ServiceInfo
from booking.availability.service import (
    OfficePlan,
    Planner,
    Slot,
    office_info,
    service_info,
)
from booking.bookings.errors import (
    BookingClosed,
    BookingLimitReached,
    BookingNotConfirmed,
    BookingNotFound,
    BookingNotHeld,
    HoldExpired,
    HoldLimitReached,
    OptInPending,
    SlotTaken,
)
from booking.bookings.gate import SeatGate
from booking.bookings.mails import (
    CANCELLED,
    CANCELLED_BY_MUNICIPALITY,
    CONFIRMATION,
    DOCUMENT_ARRIVED,
    OPT_IN,
    REMINDER,
    RESCHEDULED,
    SATISFACTION,
    BookingMails,
    book_url,
)
from booking.bookings.models import Booking, BookingItem, BookingStatus, CancelledBy
from booking.bookings.repository import BookingRepository
from booking.bookings.schemas import (
    AppointmentModeName,
    BookedService,
    BookingOut,
    BookingStatusName,
    CancelledByName,
    Checklist,
    ChecklistItem,
    Contact,
    ContactIn,
    HoldIn,
    OfficeRef,
    RescheduleIn,
)
from booking.bookings.secrets import (
    hash_token,
    manage_token_for,
    new_code,
    opt_in_token_for,
    token_matches,
)
from booking.catalogue.repository import ServiceRepository
from booking.events.models import (
    BOOKING_CANCELLED,
    BOOKING_CONFIRMED,
    BOOKING_RESCHEDULED,
    BookingChanged,
    BookingRescheduled,
)
from booking.hours.calendar import day_bounds, open_intervals
from booking.language import Language
from booking.offices.models import Office
from booking.offices.repository import OfficeRepository
from booking.offices.service import OfficeDirectory
from booking.settings import BookingSettings
from servicekit.auth import Principal
from servicekit.botcheck import Botcheck
from servicekit.constant_time import same_secret
from servicekit.db import utcnow
from servicekit.events import Outbox
from servicekit.problems import Forbidden, Problem


class NotOfficeStaff(Forbidden):
    type_slug = "not-office-staff"
    title = "Only clerks of this office and administrators see its appointments"


@dataclass(frozen=True)
class Caller:
    """Whoever asks about a booking: a token's principal and/or a manage-link token."""

    principal: Principal | None
    manage_token: str | None = None


def status_of(booking: Booking, now: datetime) -> BookingStatusName:
    if booking.status == BookingStatus.HELD:
        expires = booking.hold_expires_at
        return "expired" if expires is None or expires <= now else "held"
    if booking.status == BookingStatus.CONFIRMED:
        return "confirmed"
    return "cancelled"


def is_its_citizen(booking: Booking, caller: Caller) -> bool:
    """The caller is the booking's citizen: by its manage link, or by the account it belongs to."""
    if token_matches(caller.manage_token, booking.manage_token_hash):
        return True
    principal = caller.principal
    return (
        is_citizen_of(principal, booking.tenant)
        and principal is not None
        and booking.citizen_subject == principal.subject
    )


def booked_items(
    booking_id: uuid.UUID, services: Sequence[ServiceInfo], plan: OfficePlan
) -> list[BookingItem]:
    """A booking's services in the order asked for, each with its duration at the office."""
    return [
        BookingItem(
            booking_id=booking_id,
            position=position,
            service_id=service.id,
            duration_minutes=plan.duration_of(service),
        )
        for position, service in enumerate(services)
    ]


def held_booking(
    *,
    tenant: str,
    plan: OfficePlan,
    services: Sequence[ServiceInfo],
    start: datetime,
    expires: datetime,
    subject: str | None,
    language: Language,
    now: datetime,
    secret: str,
) -> tuple[Booking, str]:
    """A new hold of ``start`` at the plan's office, and its manage token."""
    booking_id = uuid.uuid4()
    token = manage_token_for(booking_id, secret)
    booking = Booking(
        id=booking_id,
        tenant=tenant,
        office_id=plan.office.id,
        code=new_code(),
        status=BookingStatus.HELD,
        starts_at=start,
        ends_at=start + plan.length,
        hold_expires_at=expires,
        citizen_subject=subject,
        manage_token_hash=hash_token(token),
        language=language,
        created_at=now,
        sequence=0,
        remind_at=None,
        walk_in=False,
        mode=plan.mode,
        items=booked_items(booking_id, services, plan),
    )
    return booking, token


def still_open(plan: OfficePlan, booking: Booking) -> bool:
    """Whether the office (as ``plan`` has its hours now) is open for the whole appointment."""
    day = plan.local_day(booking.starts_at)
    periods = open_intervals(day, plan.zone, plan.rules, plan.closures, plan.holidays)
    return any(
        opens <= booking.starts_at and booking.ends_at <= closes for opens, closes in periods
    )


class FreedSeats(Protocol):
    """Told, in the transaction of a change, that seats of an office may have become free in
    ``[start, end)`` (the waitlist offers them)."""

    async def seats_freed(
        self,
        bookings: Bookings,
        tenant: str,
        office_id: uuid.UUID,
        start: datetime,
        end: datetime,
    ) -> None: ...


class _SeatLost(Exception):
    """The seat was taken meanwhile: the savepoint is rolled back."""


class Bookings:
    def __init__(
        self,
        bookings: BookingRepository,
        planner: Planner,
        offices: OfficeRepository,
        services: ServiceRepository,
        settings: BookingSettings,
        gate: SeatGate,
        outbox: Outbox,
        mails: BookingMails,
        waitlist: FreedSeats | None = None,
        botcheck: Botcheck | None = None,
    ) -> None:
        self.bookings = bookings
        self.botcheck = botcheck
        self.waitlist = waitlist
        self.outbox = outbox
        self.mails = mails
        self.gate = gate
        self.planner = planner
        self.offices = offices
        self.directory = OfficeDirectory(offices)
        self.services = services
        self.settings = settings
        # Per request: what describing a booking needs, so it can be loaded before any lock.
        self._offices: dict[uuid.UUID, OfficeInfo] = {}
        self._services: dict[uuid.UUID, ServiceInfo] = {}

    # -- lifecycle --------------------------------------------------------------------------

    async def hold(
        self,
        tenant: str,
        data: HoldIn,
        principal: Principal | None,
        language: Language,
        *,
        address: str | None = None,
        solution: str | None = None,
    ) -> tuple[Booking, str]:
        """Hold a slot. Without an account, where the municipality asks for it, a fresh
        proof of work (``solution``) is spent on it, and the client address may keep only
        so many holds at a time."""
        now = utcnow()
        client_key = None
        if principal is None:
            if self.botcheck is not None:
                # In this transaction: a hold that fails leaves the solution unspent.
                await self.botcheck.verify(self.bookings.session, tenant, solution)
            if address is not None and self.settings.holds_per_address() is not None:
                client_key = self._client_key(address)
        services = await self.planner.services_of(tenant, data.service_ids)
        start = data.start.astimezone(UTC)
        plan = await self.planner.plan_for(tenant, data.office_id, services)
        self.planner.check_start(plan, start, now)
        units = plan.units(start)
        office_id = plan.office.id
        subject = (
            principal.subject
            if principal is not None and is_citizen_of(principal, tenant)
            else None
        )
        async with self.gate.admit(office_id, units, plan.capacity) as first_seat:
            seen = await self.bookings.seats(office_id, units, now)
            full = seen.full(units, plan.capacity)
            if full:
                self.gate.mark_full(office_id, full)
                raise SlotTaken("Every counter is booked at this time; pick another slot.")
            if subject is not None:
                await self.bookings.lock_owners([f"booking-owner:{tenant}:subject:{subject}"])
                if await self.bookings.live_holds(tenant, subject, now) >= (
                    self.settings.live_holds_per_citizen
                ):
                    raise HoldLimitReached(
                        f"At most {self.settings.live_holds_per_citizen} held slots at a time."
                    )
            per_address = self.settings.holds_per_address()
            if client_key is not None and per_address is not None:
                await self.bookings.lock_owners([f"booking-owner:{tenant}:address:{client_key}"])
                if await self.bookings.live_holds_of_address(tenant, client_key, now) >= (
                    per_address
                ):
                    raise HoldLimitReached(
                        f"At most {per_address} held slots at a time from one address."
                    )
            expires = now + timedelta(minutes=self.settings.hold_minutes)
            booking, token = held_booking(
                tenant=tenant,
                plan=plan,
                services=services,
                start=start,
                expires=expires,
                subject=subject,
                language=language,
                now=now,
                secret=self.settings.manage_link_secret.get_secret_value(),
            )
            booking.client_key = client_key
            # Everything the answer needs is read now: after the claim, this transaction holds
            # seats that competing requests wait for, until it commits.
            await self._remember_descriptions([booking])
            await self.bookings.add(booking)
            claim = await self.bookings.claim(
                office_id=office_id,
                units=units,
                booking_id=booking.id,
                capacity=plan.capacity,
                expires_at=expires,
                now=now,
                seen=seen,
                first_seat=first_seat,
            )
            self.gate.mark_full(office_id, claim.full)
            if not claim.taken:
                raise SlotTaken("Every counter is booked at this time; pick another slot.")
        self.planner.cache.forget_bookings(tenant)
        return booking, token

    def _client_key(self, address: str) -> str:
        """The address as the limit counts it: keyed, so the table alone does not reveal it."""
        secret = self.settings.manage_link_secret.get_secret_value().encode()
        return hmac.new(secret, f"client-address:{address}".encode(), "sha256").hexdigest()[:32]

    async def find(
        self, booking_id: uuid.UUID, caller: Caller, *, for_update: bool = False
    ) -> Booking:
        """The booking if the caller may see it; 404 alike for missing and foreign ones."""
        booking = await self.bookings.get(booking_id, for_update=for_update)
        if booking is None or not await self._may_access(booking, caller):
            raise BookingNotFound(f"No booking {booking_id} for you.")
        return booking

    async def _may_access(self, booking: Booking, caller: Caller) -> bool:
        if is_its_citizen(booking, caller):
            return True
        principal = caller.principal
        if principal is None or principal.tenant != booking.tenant:
            return False
        if principal.has_role("clerk", "admin"):
            office = await self.offices.get_in_tenant(booking.tenant, booking.office_id)
            return office is not None and await self.directory.works_at(principal, office)
        return False

    async def confirm(self, booking_id: uuid.UUID, caller: Caller, contact: ContactIn) -> Booking:
        """Confirm the hold; without an account, where the municipality asks for a double
        opt-in, only mail the link that confirms it (``confirm_by_mail``): the booking stays
        held, with the contact, until the citizen follows it within the hold's lifetime."""
        now = utcnow()
        booking = await self.find(booking_id, caller, for_update=True)
        await self._remember_descriptions([booking])
        self._check_held(booking, now)
        email = contact.email.lower()
        if booking.citizen_subject is None and self.settings.mail_of(booking.tenant).double_opt_in:
            if booking.email is not None and booking.email != email:
                # The link went to the first address and confirms for it alone: another
                # address gets no mail, and the answer does not show the first one.
                raise OptInPending(
                    "The confirmation link of this hold was mailed to another address; "
                    "follow it, or let the hold go and hold a slot again."
                )
            if booking.email is None:
                await self.bookings.lock_owners([f"booking-owner:{booking.tenant}:email:{email}"])
                limit = self.settings.live_holds_per_email
                if await self.bookings.live_holds_of_email(
                    booking.tenant, email, now, booking.id
                ) >= (limit):
                    raise HoldLimitReached(
                        f"At most {limit} held slots at a time wait for this address's "
                        "confirmation; follow a mailed link or let a hold go."
                    )
            await self.bookings.update(booking, name=contact.name, email=email, phone=contact.phone)
            await self._mail(OPT_IN, booking)
            return booking
        return await self._confirm(booking, contact.name, email, contact.phone, now)

    async def confirm_by_mail(self, booking_id: uuid.UUID, token: str) -> Booking:
        """The double opt-in: the mailed link's token confirms the held booking."""
        now = utcnow()
        booking = await self.opted_in(booking_id, token, for_update=True)
        await self._remember_descriptions([booking])
        if booking.status == BookingStatus.CONFIRMED:
            return booking  # the link followed twice
        self._check_held(booking, now)
        # opted_in found both
        assert booking.name is not None
        assert booking.email is not None
        return await self._confirm(booking, booking.name, booking.email, booking.phone, now)

    async def opted_in(
        self, booking_id: uuid.UUID, token: str, *, for_update: bool = False
    ) -> Booking:
        """The booking whose opt-in mail carried ``token``; 404 alike for any other."""
        booking = await self.bookings.get(booking_id, for_update=for_update)
        secret = self.settings.manage_link_secret.get_secret_value()
        if (
            booking is None
            or booking.email is None
            or booking.name is None
            or not same_secret(token, opt_in_token_for(booking.id, booking.email, secret))
        ):
            raise BookingNotFound(f"No booking {booking_id} for this link.")
        return booking

    @staticmethod
    def _check_held(booking: Booking, now: datetime) -> None:
        status = status_of(booking, now)
        if status == "expired":
            raise HoldExpired("The hold has run out; hold a slot again.")
        if status != "held":
            raise BookingNotHeld(f"The booking is {status}.")

    async def _confirm(
        self, booking: Booking, name: str, email: str, phone: str | None, now: datetime
    ) -> Booking:
        owners = [f"booking-owner:{booking.tenant}:email:{email}"]
        if booking.citizen_subject is not None:
            owners.append(f"booking-owner:{booking.tenant}:subject:{booking.citizen_subject}")
        await self.bookings.lock_owners(owners)
        counts = await self.bookings.open_counts(
            tenant=booking.tenant,
            service_ids=[item.service_id for item in booking.items],
            subject=booking.citizen_subject,
            email=email,
            now=now,
            exclude=booking.id,
        )
        limit = self.settings.open_bookings_per_service
        if any(count >= limit for count in counts.values()):
            raise BookingLimitReached(
                f"At most {limit} upcoming bookings per service; cancel one first."
            )
        # A hold's claims all carry the hold's expiry and are deleted only once expired (or
        # by a cancellation, which this row lock excludes): an unexpired hold has all of them,
        # and if its expiry passed since ``now``, none is turned.
        if not await self.bookings.make_permanent(booking.id, now):
            raise HoldExpired("The hold has run out; hold a slot again.")
        await self.bookings.update(
            booking,
            status=BookingStatus.CONFIRMED,
            name=name,
            email=email,
            phone=phone,
            confirmed_at=now,
            hold_expires_at=None,
            client_key=None,
            remind_at=self._remind_at(booking.tenant, booking.starts_at, now),
        )
        self._tell(BOOKING_CONFIRMED, booking)
        await self._mail(CONFIRMATION, booking)
        return booking

    async def cancel(self, booking_id: uuid.UUID, caller: Caller) -> Booking:
        now = utcnow()
        booking = await self.find(booking_id, caller, for_update=True)
        if booking.status == BookingStatus.CANCELLED:
            return booking
        if booking.status == BookingStatus.CONFIRMED and booking.starts_at <= now:
            raise BookingClosed("The appointment has begun; it can no longer be cancelled.")
        by = CancelledBy.CITIZEN if is_its_citizen(booking, caller) else CancelledBy.STAFF
        await self._cancelled(booking, now, by)
        if booking.confirmed_at is not None:  # a hold let go is nobody's business
            self._tell(BOOKING_CANCELLED, booking)
            await self._mail(CANCELLED, booking)
        await self._freed(booking.tenant, booking.office_id, booking.starts_at, booking.ends_at)
        return booking

    async def _cancelled(
        self, booking: Booking, now: datetime, by: CancelledBy, reason: str | None = None
    ) -> None:
        """Free the booking's seats and mark it cancelled (its row locked by the caller)."""
        self.gate.forget(await self.bookings.release(booking.id))
        booking.status = BookingStatus.CANCELLED
        booking.cancelled_at = now
        booking.cancelled_by = by
        booking.cancellation_reason = reason
        booking.hold_expires_at = None
        booking.client_key = None
        booking.remind_at = None
        if booking.confirmed_at is not None:
            booking.sequence += 1
        await self.bookings.flush()
        self.planner.cache.forget_bookings(booking.tenant)

    async def _freed(
        self, tenant: str, office_id: uuid.UUID, start: datetime, end: datetime
    ) -> None:
        if self.waitlist is not None:
            await self.waitlist.seats_freed(self, tenant, office_id, start, end)

    async def hold_for(
        self,
        plan: OfficePlan,
        services: Sequence[ServiceInfo],
        start: datetime,
        *,
        subject: str | None,
        name: str | None,
        email: str | None,
        language: Language,
        expires: datetime,
        now: datetime,
    ) -> Booking | None:
        """Hold ``start`` for someone known (a waitlist's subscriber, with their contact, so
        the booking's opt-in link confirms it), in a savepoint of the current change; None,
        with nothing written, when a seat is no longer free."""
        units = plan.units(start)
        booking, _ = held_booking(
            tenant=plan.office.tenant,
            plan=plan,
            services=services,
            start=start,
            expires=expires,
            subject=subject,
            language=language,
            now=now,
            secret=self.settings.manage_link_secret.get_secret_value(),
        )
        booking.name = name
        booking.email = email
        try:
            async with self.bookings.session.begin_nested():
                await self.bookings.add(booking)
                claim = await self.bookings.claim(
                    office_id=plan.office.id,
                    units=units,
                    booking_id=booking.id,
                    capacity=plan.capacity,
                    expires_at=expires,
                    now=now,
                    seen=await self.bookings.seats(plan.office.id, units, now),
                )
                if not claim.taken:
                    raise _SeatLost
        except _SeatLost:
            return None
        self.gate.mark_full(plan.office.id, claim.full)
        self.planner.cache.forget_bookings(booking.tenant)
        return booking

    async def settle_hours(
        self,
        tenant: str,
        office_ids: Sequence[uuid.UUID],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        reason: str | None = None,
    ) -> int:
        """After the municipality changed opening hours, closures or holidays of these
        offices (in ``[start, end)``, default: from now on): cancel each booking ahead that the
        office no longer opens for, telling its citizen (the invitation's CANCEL and the
        earliest alternative), and offer what opened to the waitlist. How many confirmed
        bookings it cancelled."""
        now = utcnow()
        since = max(start or now, now)
        # The hours as this transaction has just written them, not the process's snapshot.
        planner = Planner.on(
            self.bookings.session,
            AvailabilityCache(snapshot_seconds=3600, answer_seconds=0),
            max_services=self.settings.max_services_per_booking,
        )
        cancelled: list[Booking] = []
        for plan in await planner.plans(tenant, [], office_ids):
            until = end or now + timedelta(days=plan.office.bookable_until_days + 2)
            if since >= until:
                continue
            for found in await self.bookings.at_office(plan.office.id, since, until, now):
                if still_open(plan, found):
                    continue
                booking = await self.bookings.get(found.id, for_update=True)
                if booking is None or booking.status == BookingStatus.CANCELLED:
                    continue
                await self._cancelled(booking, now, CancelledBy.MUNICIPALITY, reason)
                if booking.confirmed_at is not None:
                    cancelled.append(booking)
            await self._freed(tenant, plan.office.id, since, until)
        for booking in cancelled:  # alternatives once every collision has been let go
            self._tell(BOOKING_CANCELLED, booking)
            alternative = await self._alternative(planner, booking, now)
            await self._mail(CANCELLED_BY_MUNICIPALITY, booking, alternative=alternative)
        return len(cancelled)

    async def _alternative(
        self, planner: Planner, booking: Booking, now: datetime
    ) -> dict[str, Any] | None:
        """The earliest free slot for the booking's services: at its office, else at another
        office of the municipality; for the mail, with the link that books it."""
        service_ids = [item.service_id for item in booking.items]
        today = now.astimezone(UTC).date()
        end = today + timedelta(days=self.settings.earliest_horizon_days)
        slot: Slot | None = None
        try:
            for office_ids in ([booking.office_id], []):
                days = await planner.available_days(
                    booking.tenant, service_ids, office_ids, today, end, now
                )
                if days:
                    day = min(days)
                    slots = await planner.free_slots(
                        booking.tenant, service_ids, days[day], day, now
                    )
                    slot = slots[0] if slots else None
                if slot is not None:
                    break
        except Problem:  # a service left the catalogue meanwhile: no alternative to offer
            return None
        if slot is None:
            return None
        office = (await planner.snapshot(booking.tenant)).offices[slot.office_id]
        return {
            "starts_at": slot.start,
            "office": office,
            "book_url": book_url(self.settings, slot.office_id, service_ids, slot.start),
        }

    async def reschedule(
        self, booking_id: uuid.UUID, caller: Caller, data: RescheduleIn
    ) -> Booking:
        now = utcnow()
        booking = await self.find(booking_id, caller, for_update=True)
        if booking.status == BookingStatus.CANCELLED or (
            booking.status == BookingStatus.CONFIRMED and booking.starts_at <= now
        ):
            raise BookingClosed("A cancelled or begun appointment cannot be moved.")
        if booking.status != BookingStatus.CONFIRMED:
            raise BookingNotConfirmed("Confirm the held slot first, or hold another one.")
        services = await self.planner.services_of(
            booking.tenant, [item.service_id for item in booking.items]
        )
        office_id = data.office_id or booking.office_id
        start = data.start.astimezone(UTC)
        plan = await self.planner.plan_for(booking.tenant, office_id, services)
        self.planner.check_start(plan, start, now)
        new_units = plan.units(start)
        old = set(await self.bookings.claims_of(booking.id))
        wanted = [unit for unit in new_units if (office_id, unit) not in old]
        # The new seats are taken while the old ones are still held: a lost race leaves the
        # booking exactly as it was.
        claim = await self.bookings.claim(
            office_id=office_id,
            units=wanted,
            booking_id=booking.id,
            capacity=plan.capacity,
            expires_at=None,
            now=now,
            seen=await self.bookings.seats(office_id, wanted, now),
        )
        self.gate.mark_full(office_id, claim.full)
        if not claim.taken:
            raise SlotTaken("Every counter is booked at the new time; the booking is unchanged.")
        keep = {(office_id, unit) for unit in new_units}
        freed = [unit for unit in old if unit not in keep]
        self.gate.forget(await self.bookings.release(booking.id, freed))
        left = (booking.office_id, booking.starts_at, booking.ends_at)
        by_id = {service.id: service for service in services}
        for item in booking.items:
            item.duration_minutes = plan.duration_of(by_id[item.service_id])
        previous_start = booking.starts_at
        booking.office_id = office_id
        booking.mode = plan.mode
        booking.starts_at = start
        booking.ends_at = start + plan.length
        booking.remind_at = self._remind_at(booking.tenant, start, now)
        booking.sequence += 1
        await self.bookings.flush()
        self.planner.cache.forget_bookings(booking.tenant)
        self._tell(BOOKING_RESCHEDULED, booking, previous_start)
        await self._mail(RESCHEDULED, booking, previous_start)
        if freed:
            await self._freed(booking.tenant, *left)
        return booking

    def _remind_at(self, tenant: str, starts_at: datetime, now: datetime) -> datetime | None:
        """When the reminder is due; none when booked inside the reminder's window."""
        hours = self.settings.mail_of(tenant).reminder_hours
        due = starts_at - timedelta(hours=hours)
        return due if hours and due > now else None

    async def remind(self, booking: Booking, now: datetime) -> bool:
        """Queue the due reminder of ``booking`` (locked by ``due_reminders``); False when
        there is none to send (no address any more, begun, or queued by another replica)."""
        booking.remind_at = None
        if booking.status != BookingStatus.CONFIRMED or booking.starts_at <= now:
            return False
        return await self._mail(REMINDER, booking)

    async def ask_for_feedback(self, booking: Booking) -> bool:
        """After a completed visit, the one mail that asks how it went (where the municipality
        wants it); it links to the feedback by the manage link."""
        if not self.settings.mail_of(booking.tenant).satisfaction_mail:
            return False
        return await self._mail(SATISFACTION, booking)

    async def tell_document_arrived(
        self, tenant: str, booking_id: uuid.UUID, document_id: str
    ) -> bool:
        """Mail the citizen that the office put a document into the booking's consultation
        room (once per document); False without a booking or an address to mail."""
        booking = await self.bookings.get(booking_id)
        if booking is None or booking.tenant != tenant:
            return False
        return await self._mail(DOCUMENT_ARRIVED, booking, about=f"document:{document_id}")

    async def _mail(
        self,
        template: str,
        booking: Booking,
        previous_start: datetime | None = None,
        *,
        alternative: dict[str, Any] | None = None,
        about: str | None = None,
    ) -> bool:
        """The citizen's mail about this change, queued in its transaction."""
        if booking.email is None:
            return False
        language: Language = "en" if booking.language == "en" else "de"
        [described] = await self.describe([booking], language, with_contact=False)
        office = await self.office_of(booking)
        services = await self.services.get_many(
            booking.tenant, [item.service_id for item in booking.items]
        )
        return await self.mails.send(
            self.bookings.session,
            template,
            booking,
            described,
            office,
            {service.id: service.fee_cents for service in services},
            previous_start=previous_start,
            alternative=alternative,
            about=about,
        )

    def _tell(
        self, event_type: str, booking: Booking, previous_start: datetime | None = None
    ) -> None:
        """The booking's event for those who subscribe (in this transaction; no personal
        data: who booked is the municipality's to ask through the API)."""
        if not self.outbox.wanted(event_type):
            return
        data: dict[str, Any] = {
            "booking_id": booking.id,
            "office_id": booking.office_id,
            "service_ids": [item.service_id for item in booking.items],
            "starts_at": booking.starts_at,
            "ends_at": booking.ends_at,
        }
        if previous_start is not None:
            data["previous_starts_at"] = previous_start
        model = BookingChanged if previous_start is None else BookingRescheduled
        changed = model.model_validate(data)
        self.outbox.emit(
            self.bookings.session,
            event_type,
            changed.model_dump(mode="json"),
            subject=str(booking.id),
            tenant=booking.tenant,
        )

    # -- views ------------------------------------------------------------------------------

    async def of_citizen(self, principal: Principal) -> Sequence[Booking]:
        return await self.bookings.of_citizen(principal.tenant, principal.subject)

    async def staffed_office(
        self, tenant: str, office_id: uuid.UUID, principal: Principal
    ) -> Office:
        """The office, if ``principal`` works there (or administers the tenant); 403 if not."""
        office = await self.directory.get(tenant, office_id)
        if not await self.directory.works_at(principal, office):
            raise NotOfficeStaff()
        return office

    async def office_day(
        self, tenant: str, office_id: uuid.UUID, day: date, principal: Principal
    ) -> tuple[Office, Sequence[Booking]]:
        office = await self.staffed_office(tenant, office_id, principal)
        start, end = day_bounds(day, ZoneInfo(office.time_zone))
        return office, await self.bookings.at_office(office.id, start, end, utcnow())

    async def tenant_day(self, tenant: str, day: date) -> list[Booking]:
        """Every office's appointments of a local day (administrators)."""
        items: list[Booking] = []
        now = utcnow()
        for office in await self.offices.list(tenant):
            start, end = day_bounds(day, ZoneInfo(office.time_zone))
            items.extend(await self.bookings.at_office(office.id, start, end, now))
        return sorted(items, key=lambda b: (b.starts_at, b.code))

    async def describe(
        self, bookings: Sequence[Booking], language: Language, *, with_contact: bool = True
    ) -> list[BookingOut]:
        now = utcnow()
        await self._remember_descriptions(bookings)
        offices = self._offices
        services = self._services
        return [
            self._out(booking, offices[booking.office_id], services, language, now, with_contact)
            for booking in bookings
        ]

    async def _remember_descriptions(self, bookings: Sequence[Booking]) -> None:
        """The offices and services (with documents) these bookings name, once per request.

        They come from the tenant's snapshot (see ``availability.cache``); what it does not
        hold yet (created after it was taken) is read from the database.
        """
        for tenant in {b.tenant for b in bookings}:
            snapshot = await self.planner.snapshot(tenant)
            offices = {b.office_id for b in bookings if b.tenant == tenant} - self._offices.keys()
            services = {
                item.service_id for b in bookings if b.tenant == tenant for item in b.items
            } - self._services.keys()
            self._offices.update(
                {i: snapshot.offices[i] for i in offices & snapshot.offices.keys()}
            )
            self._services.update(
                {i: snapshot.services[i] for i in services & snapshot.services.keys()}
            )
            offices -= snapshot.offices.keys()
            services -= snapshot.services.keys()
            if offices:
                found = await self.offices.list(tenant, office_ids=offices)
                self._offices.update({office.id: office_info(office) for office in found})
            if services:
                found_services = await self.services.get_many(tenant, services)
                self._services.update({s.id: service_info(s) for s in found_services})

    async def office_of(self, booking: Booking) -> Office:
        return (await self.offices.get_many([booking.office_id]))[booking.office_id]

    def _out(
        self,
        booking: Booking,
        office: OfficeInfo,
        services: dict[uuid.UUID, ServiceInfo],
        language: Language,
        now: datetime,
        with_contact: bool,
    ) -> BookingOut:
        english = language == "en"
        contact = None
        if with_contact and booking.name is not None and booking.email is not None:
            contact = Contact(name=booking.name, email=booking.email, phone=booking.phone)
        return BookingOut(
            id=booking.id,
            tenant=booking.tenant,
            code=booking.code,
            status=status_of(booking, now),
            office=OfficeRef(
                id=office.id,
                name=office.name,
                street=office.street,
                postal_code=office.postal_code,
                city=office.city,
                time_zone=office.time_zone,
            ),
            starts_at=booking.starts_at,
            ends_at=booking.ends_at,
            hold_expires_at=booking.hold_expires_at,
            services=[
                BookedService(
                    service_id=item.service_id,
                    leika=services[item.service_id].leika,
                    name=(
                        services[item.service_id].name_en
                        if english
                        else services[item.service_id].name_de
                    ),
                    duration_minutes=item.duration_minutes,
                )
                for item in booking.items
            ],
            contact=contact,
            checklist=self._checklist(booking, services, language),
            created_at=booking.created_at,
            confirmed_at=booking.confirmed_at,
            cancelled_at=booking.cancelled_at,
            cancelled_by=cast(CancelledByName | None, booking.cancelled_by),
            cancellation_reason=booking.cancellation_reason,
            mode=cast(AppointmentModeName, booking.mode),
        )

    @staticmethod
    def _checklist(
        booking: Booking, services: dict[uuid.UUID, ServiceInfo], language: Language
    ) -> list[ChecklistItem]:
        english = language == "en"
        return [
            ChecklistItem(
                id=document.id,
                service_id=service.id,
                leika=service.leika,
                name=document.name_en if english else document.name_de,
                description=document.description_en if english else document.description_de,
                mandatory=document.mandatory,
                accepted_formats=list(document.accepted_formats),
            )
            for service in (services[item.service_id] for item in booking.items)
            for document in service.documents
        ]

    async def checklist(self, booking: Booking, language: Language) -> Checklist:
        await self._remember_descriptions([booking])
        services = self._services
        return Checklist(
            booking_id=booking.id,
            tenant=booking.tenant,
            office_id=booking.office_id,
            status=status_of(booking, utcnow()),
            starts_at=booking.starts_at,
            ends_at=booking.ends_at,
            language=language,
            items=self._checklist(booking, services, language),
        )
