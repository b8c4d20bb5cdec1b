"""The waitlist: citizens waiting for a seat of a service; a seat that frees is held for the
first of them (FIFO) for ``waitlist_offer_minutes`` and offered by mail.

A seat frees when a booking is cancelled (also by an erasure or the municipality), moved
away, or when the municipality adds opening hours or lifts a closure or a holiday: the change
tells :class:`WaitlistDesk` (``Bookings.waitlist``) in its own transaction, and the seat is
held for the subscriber before that transaction commits, so nobody else can take it meanwhile.

Two rules keep parallel releases apart (see ``SubscriptionRepository.lock_waiting``): the
subscriber is locked once a free seat is known to fit, and one locked by a concurrent release
is skipped; a subscriber with an offer standing is not waiting, so never gets a second one.
The seat itself is a claim like any hold's: the database lets one booking have it. An offer
that runs out puts its subscriber at the back of the queue and its seat goes to the next one
(``hand_on_lapsed``).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo

from booking.access import is_citizen_of
from booking.availability.errors import ServicesNotOffered
from booking.bookings.models import Booking, BookingStatus
from booking.bookings.schemas import BookingOut
from booking.bookings.secrets import manage_token_for, opt_in_token_for, waitlist_token_for
from booking.bookings.service import Bookings, Caller
from booking.language import Language
from booking.waitlist.errors import (
    DaysNotWaitable,
    NoOffer,
    SubscriptionEnded,
    SubscriptionNotFound,
    WaitlistLimitReached,
)
from booking.waitlist.mails import (
    UNSUBSCRIBE,
    WaitlistMails,
    confirm_purpose,
    offer_purpose,
)
from booking.waitlist.models import Subscription, WaitlistStatus
from booking.waitlist.repository import SubscriptionRepository
from booking.waitlist.schemas import OfferOut, SubscriptionIn, SubscriptionStatusName
from servicekit.auth import Principal
from servicekit.constant_time import same_secret
from servicekit.db import utcnow
from servicekit.problems import Problem

MAX_CANDIDATES = 50
"""Subscribers one release looks at (those whose service does not fit the seat are passed)."""


class Waitlist:
    def __init__(
        self, subscriptions: SubscriptionRepository, bookings: Bookings, mails: WaitlistMails
    ) -> None:
        self.subscriptions = subscriptions
        self.bookings = bookings
        self.mails = mails
        self.settings = bookings.settings

    # -- the citizen's side -----------------------------------------------------------------

    async def subscribe(
        self, tenant: str, data: SubscriptionIn, principal: Principal | None, language: Language
    ) -> Subscription:
        """Join the queue at once when signed in, else once the mailed link is confirmed."""
        now = utcnow()
        planner = self.bookings.planner
        services = await planner.services_of(tenant, [data.service_id])
        if data.office_id is not None:
            plans = [await planner.plan_for(tenant, data.office_id, services)]
        else:
            plans = await planner.plans(tenant, services, [])
            if not plans:
                raise ServicesNotOffered("No office of the municipality offers this service.")
        first_day = self._check_days(data.first_day, data.last_day, plans[0].local_day(now))
        email = data.email.lower()
        await self.bookings.bookings.lock_owners([f"waitlist-owner:{tenant}:email:{email}"])
        limit = self.settings.waitlist_per_address
        if await self.subscriptions.live_of(tenant, email, first_day) >= limit:
            raise WaitlistLimitReached(
                f"At most {limit} waitlist subscriptions per address; end one first."
            )
        signed_in = is_citizen_of(principal, tenant) and principal is not None
        subscription = Subscription(
            id=uuid.uuid4(),
            tenant=tenant,
            service_id=data.service_id,
            office_id=data.office_id,
            first_day=first_day,
            last_day=data.last_day,
            name=data.name,
            email=email,
            language=language,
            citizen_subject=principal.subject if signed_in and principal else None,
            status=WaitlistStatus.WAITING if signed_in else WaitlistStatus.PENDING,
            created_at=now,
            queued_at=now if signed_in else None,
            offers=0,
        )
        await self.subscriptions.add(subscription)
        if not signed_in:
            office = plans[0].office.name if data.office_id is not None else None
            name = services[0].name_en if language == "en" else services[0].name_de
            await self.mails.ask_to_confirm(
                self.subscriptions.session, subscription, name, office, plans[0].office.time_zone
            )
        return subscription

    def _check_days(self, first: date, last: date, today: date) -> date:
        """The first day to wait for (today at the earliest); 422 for days that cannot be."""
        if last < first:
            raise DaysNotWaitable("last_day is before first_day.")
        if last < today:
            raise DaysNotWaitable("The days are in the past.")
        first = max(first, today)
        longest = self.settings.waitlist_max_days
        if (last - first).days + 1 > longest:
            raise DaysNotWaitable(f"At most {longest} days per subscription.")
        return first

    async def find(
        self,
        subscription_id: uuid.UUID,
        token: str,
        purposes: Collection[str],
        *,
        for_update: bool = False,
    ) -> Subscription:
        """The subscription whose link (for one of ``purposes``) carried ``token``; 404 alike
        for any other."""
        subscription = await self.subscriptions.get(subscription_id, for_update=for_update)
        if subscription is None or not any(
            same_secret(token, self._token(subscription, purpose)) for purpose in purposes
        ):
            raise SubscriptionNotFound(f"No waitlist subscription {subscription_id} for this link.")
        return subscription

    def _token(self, subscription: Subscription, purpose: str) -> str:
        secret = self.settings.manage_link_secret.get_secret_value()
        return waitlist_token_for(subscription.id, purpose, secret)

    async def show(self, subscription_id: uuid.UUID, token: str) -> Subscription:
        """By the confirmation or the unsubscribe link; changes nothing."""
        subscription = await self.subscriptions.get(subscription_id)
        purposes = [UNSUBSCRIBE]
        if subscription is not None and subscription.email is not None:
            purposes.append(confirm_purpose(subscription.email))
        return await self.find(subscription_id, token, purposes)

    async def confirm(self, subscription_id: uuid.UUID, token: str) -> Subscription:
        """The mailed link's POST: the address is confirmed, the subscription joins the queue
        (repeating it changes nothing)."""
        subscription = await self.subscriptions.get(subscription_id, for_update=True)
        email = subscription.email if subscription is not None else None
        subscription = await self.find(subscription_id, token, [confirm_purpose(email or "")])
        if subscription.status == WaitlistStatus.ENDED:
            raise SubscriptionEnded("The subscription has ended; subscribe again.")
        if subscription.status == WaitlistStatus.PENDING:
            subscription.status = WaitlistStatus.WAITING
            subscription.queued_at = utcnow()
            await self.subscriptions.flush()
        return subscription

    async def unsubscribe(self, subscription_id: uuid.UUID, token: str) -> Subscription:
        """End the subscription (repeating it changes nothing); a seat held for it is offered
        to the next subscriber."""
        subscription = await self.find(subscription_id, token, [UNSUBSCRIBE], for_update=True)
        if subscription.status in (WaitlistStatus.ENDED, WaitlistStatus.BOOKED):
            return subscription
        offered = subscription.offer_booking_id if subscription.status == "offered" else None
        subscription.status = WaitlistStatus.ENDED
        subscription.ended_at = utcnow()
        subscription.offer_expires_at = None
        await self.subscriptions.flush()
        if offered is not None:
            secret = self.settings.manage_link_secret.get_secret_value()
            booking = await self.bookings.bookings.get(offered)
            if booking is not None and booking.status == BookingStatus.HELD:
                await self.bookings.cancel(offered, Caller(None, manage_token_for(offered, secret)))
        return subscription

    async def offer(self, subscription_id: uuid.UUID, token: str, language: Language) -> OfferOut:
        """The seat held for the subscriber, by the offer mail's link; changes nothing."""
        subscription = await self.subscriptions.get(subscription_id)
        offers = subscription.offers if subscription is not None else 0
        subscription = await self.find(subscription_id, token, [offer_purpose(offers)])
        booking = await self._offered(subscription)
        [described] = await self.bookings.describe([booking], language, with_contact=False)
        return OfferOut(
            subscription_id=subscription.id,
            status=cast(SubscriptionStatusName, subscription.status),
            expires_at=subscription.offer_expires_at,
            booking=described,
        )

    async def accept(
        self, subscription_id: uuid.UUID, token: str, language: Language
    ) -> BookingOut:
        [booking] = await self.bookings.describe(
            [await self._accept(subscription_id, token)], language, with_contact=False
        )
        return booking

    async def _accept(self, subscription_id: uuid.UUID, token: str) -> Booking:
        """The offer mail's POST: the held seat becomes the subscriber's booking (repeating
        it changes nothing); the confirmation with the invitation is mailed."""
        subscription = await self.subscriptions.get(subscription_id, for_update=True)
        offers = subscription.offers if subscription is not None else 0
        subscription = await self.find(subscription_id, token, [offer_purpose(offers)])
        booking = await self._offered(subscription)
        if subscription.status == WaitlistStatus.BOOKED:
            return booking
        assert booking.email is not None  # an offer's hold carries the subscriber's contact
        secret = self.settings.manage_link_secret.get_secret_value()
        booking = await self.bookings.confirm_by_mail(
            booking.id, opt_in_token_for(booking.id, booking.email, secret)
        )
        subscription.status = WaitlistStatus.BOOKED
        subscription.offer_expires_at = None
        await self.subscriptions.flush()
        return booking

    async def _offered(self, subscription: Subscription) -> Booking:
        booking_id = subscription.offer_booking_id
        booking = await self.bookings.bookings.get(booking_id) if booking_id else None
        if booking is None or subscription.status not in (
            WaitlistStatus.OFFERED,
            WaitlistStatus.BOOKED,
        ):
            raise NoOffer("No seat is held for this subscription now.")
        return booking

    # -- seats that free --------------------------------------------------------------------

    async def offer_freed(
        self,
        tenant: str,
        office_id: uuid.UUID,
        start: datetime,
        end: datetime,
        *,
        exclude: Collection[uuid.UUID] = (),
    ) -> int:
        """Offer the free seats of the office in ``[start, end)`` to the first waiting
        subscribers they fit; how many offers were made."""
        now = utcnow()
        start = max(start, now)
        office = (await self.bookings.planner.snapshot(tenant)).offices.get(office_id)
        if office is None or start >= end:
            return 0
        zone = ZoneInfo(office.time_zone)
        first_day = start.astimezone(zone).date()
        last_day = (end - timedelta(microseconds=1)).astimezone(zone).date()
        tried = set(exclude)
        offered = 0
        for _ in range(MAX_CANDIDATES):
            subscription = await self.subscriptions.next_waiting(
                tenant, office_id, office.durations.keys(), first_day, last_day, tried
            )
            if subscription is None:
                break
            tried.add(subscription.id)
            offered += await self._offer(subscription, office_id, start, end, now)
        return offered

    async def _offer(
        self,
        subscription: Subscription,
        office_id: uuid.UUID,
        start: datetime,
        end: datetime,
        now: datetime,
    ) -> bool:
        """Hold the earliest free slot in ``[start, end)`` that fits the subscription and mail
        the offer; False when none fits."""
        planner = self.bookings.planner
        try:
            services = await planner.services_of(subscription.tenant, [subscription.service_id])
        except Problem:  # the service left the catalogue
            return False
        plans = await planner.plans(subscription.tenant, services, [office_id])
        if not plans:
            return False
        [plan] = plans
        first = max(plan.local_day(start), subscription.first_day)
        last = min(plan.local_day(end - timedelta(microseconds=1)), subscription.last_day)
        candidates: list[datetime] = []
        day = first
        while day <= last:
            candidates.extend(
                s for s in plan.starts(day, now) if s < end and s + plan.length > start
            )
            day += timedelta(days=1)
        if not candidates:
            return False
        # The freed seat itself first: slots inside the window, then those starting in it,
        # then those reaching into it; each the earliest first.
        candidates.sort(
            key=lambda s: (s + plan.length > end, not start <= s < end, s),
        )
        full = await planner.full_units([plan], first, last + timedelta(days=1), now)
        free = [candidate for candidate in candidates if plan.is_free(candidate, full)]
        if not free or await self.subscriptions.lock_waiting(subscription.id) is None:
            return False
        expires = now + timedelta(minutes=self.settings.waitlist_offer_minutes)
        language: Language = "en" if subscription.language == "en" else "de"
        for candidate in free:
            booking = await self.bookings.hold_for(
                plan,
                services,
                candidate,
                subject=subscription.citizen_subject,
                name=subscription.name,
                email=subscription.email,
                language=language,
                expires=expires,
                now=now,
            )
            if booking is not None:
                break
        else:
            return False
        subscription.status = WaitlistStatus.OFFERED
        subscription.offers += 1
        subscription.offer_booking_id = booking.id
        subscription.offer_expires_at = expires
        await self.subscriptions.flush()
        [described] = await self.bookings.describe([booking], language, with_contact=False)
        await self.mails.offer(self.subscriptions.session, subscription, described)
        return True

    async def hand_on_lapsed(self, now: datetime, limit: int) -> tuple[int, int]:
        """Up to ``limit`` offers that ran out: their subscribers go to the back of the queue
        (or leave it, once their days are over), their seats to the next subscribers; how many
        offers ran out, and how many new ones were made."""
        handed = 0
        lapsed = await self.subscriptions.lapsed_offers(now, limit)
        for subscription in lapsed:
            booking_id = subscription.offer_booking_id
            booking = (
                await self.bookings.bookings.get(booking_id, for_update=True)
                if booking_id
                else None
            )
            if booking is not None and booking.status == BookingStatus.CONFIRMED:
                subscription.status = WaitlistStatus.BOOKED
                continue
            over = subscription.last_day < now.astimezone(ZoneInfo("Europe/Berlin")).date()
            subscription.status = WaitlistStatus.ENDED if over else WaitlistStatus.WAITING
            subscription.queued_at = now
            subscription.offer_expires_at = None
            await self.subscriptions.flush()
            if booking is None or booking.status != BookingStatus.HELD:
                continue
            self.bookings.gate.forget(await self.bookings.bookings.release(booking.id))
            self.bookings.planner.cache.forget_bookings(booking.tenant)
            handed += await self.offer_freed(
                booking.tenant,
                booking.office_id,
                booking.starts_at,
                booking.ends_at,
                exclude={subscription.id},
            )
        return len(lapsed), handed


@dataclass(frozen=True)
class WaitlistDesk:
    """The waitlist's long-lived half (built once at startup); told of freed seats by every
    request's :class:`Bookings`."""

    mails: WaitlistMails

    def waitlist(self, bookings: Bookings) -> Waitlist:
        return Waitlist(SubscriptionRepository(bookings.bookings.session), bookings, self.mails)

    async def seats_freed(
        self,
        bookings: Bookings,
        tenant: str,
        office_id: uuid.UUID,
        start: datetime,
        end: datetime,
    ) -> None:
        await self.waitlist(bookings).offer_freed(tenant, office_id, start, end)
