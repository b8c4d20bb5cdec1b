from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import date, datetime

from sqlalchemy import func, or_, select, update

from booking.waitlist.models import Subscription, WaitlistStatus
from servicekit.repository import Repository

LIVE = (WaitlistStatus.PENDING, WaitlistStatus.WAITING, WaitlistStatus.OFFERED)
"""What counts against an address's limit."""


class SubscriptionRepository(Repository[Subscription]):
    model = Subscription

    async def get(
        self, subscription_id: uuid.UUID, *, for_update: bool = False
    ) -> Subscription | None:
        query = select(Subscription).where(Subscription.id == subscription_id)
        if for_update:
            query = query.with_for_update()
        return (await self.session.scalars(query)).one_or_none()

    async def live_of(self, tenant: str, email: str, today: date) -> int:
        """Subscriptions of an address not yet over (pending, waiting or offered)."""
        count = await self.session.scalar(
            select(func.count())
            .select_from(Subscription)
            .where(
                Subscription.tenant == tenant,
                Subscription.email == email,
                Subscription.status.in_(LIVE),
                Subscription.last_day >= today,
            )
        )
        return int(count or 0)

    async def next_waiting(
        self,
        tenant: str,
        office_id: uuid.UUID,
        service_ids: Collection[uuid.UUID],
        first_day: date,
        last_day: date,
        exclude: Collection[uuid.UUID],
    ) -> Subscription | None:
        """The first waiting subscription (FIFO) that a seat of ``office_id`` on a local day in
        ``[first_day, last_day]`` may serve, not locked: :meth:`lock_waiting` it once a seat
        is known to fit (a release locks only the subscriber it offers to)."""
        query = (
            select(Subscription)
            .where(
                Subscription.tenant == tenant,
                Subscription.status == WaitlistStatus.WAITING,
                Subscription.service_id.in_(list(service_ids)),
                or_(Subscription.office_id.is_(None), Subscription.office_id == office_id),
                Subscription.first_day <= last_day,
                Subscription.last_day >= first_day,
            )
            .order_by(Subscription.queued_at, Subscription.id)
            .limit(1)
        )
        if exclude:
            query = query.where(Subscription.id.not_in(list(exclude)))
        return (await self.session.scalars(query)).one_or_none()

    async def lock_waiting(self, subscription_id: uuid.UUID) -> Subscription | None:
        """The subscription locked until commit, if it is still waiting.

        On PostgreSQL one locked by a concurrent release is skipped (None) rather than waited
        for: two releases never offer to the same subscriber, and neither waits for the other.
        """
        query = (
            select(Subscription)
            .where(
                Subscription.id == subscription_id, Subscription.status == WaitlistStatus.WAITING
            )
            .execution_options(populate_existing=True)
        )
        if self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return (await self.session.scalars(query)).one_or_none()

    async def lapsed_offers(self, now: datetime, limit: int) -> Sequence[Subscription]:
        """Offers that ran out, oldest first; on PostgreSQL locked and skipped by a replica
        doing the same at the same time."""
        query = (
            select(Subscription)
            .where(
                Subscription.status == WaitlistStatus.OFFERED,
                Subscription.offer_expires_at <= now,
            )
            .order_by(Subscription.offer_expires_at, Subscription.id)
            .limit(limit)
        )
        if self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return (await self.session.scalars(query)).all()

    async def erase_of(self, tenant: str, subject: str | None, email: str | None) -> int:
        """End and erase every subscription of an account or an address; how many."""
        owner = [
            *([Subscription.citizen_subject == subject] if subject else []),
            *([Subscription.email == email] if email else []),
        ]
        if not owner:
            return 0
        result = await self.session.execute(
            update(Subscription)
            .where(Subscription.tenant == tenant, or_(*owner))
            .values(
                status=WaitlistStatus.ENDED,
                name=None,
                email=None,
                citizen_subject=None,
                offer_expires_at=None,
            )
            .execution_options(synchronize_session="fetch")
        )
        return int(getattr(result, "rowcount", 0))
