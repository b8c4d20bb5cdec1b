"""The waitlist's mails: the link that confirms the address, and each offer of a held seat.

Each is queued in the transaction of its change, keyed by (``waitlist:<id>``, template, the
offer's number), so a retried request mails once. Every mail carries the link that ends the
subscription.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from booking.bookings.schemas import BookingOut
from booking.bookings.secrets import waitlist_token_for
from booking.settings import BookingSettings
from booking.waitlist.models import Subscription
from servicekit.mail import Mailbox

OPT_IN = "waitlist_opt_in"
OFFER = "waitlist_offer"


def waitlist_url(settings: BookingSettings, subscription_id: uuid.UUID, purpose: str) -> str:
    """The portal's page for a waitlist link (``confirm``, ``unsubscribe``, ``offer``): it
    shows what the link is about and acts only by a POST (mail scanners follow links). The
    token rides in the fragment, which a browser never sends to a server."""
    token = waitlist_token_for(
        subscription_id, purpose, settings.manage_link_secret.get_secret_value()
    )
    page = purpose.split(":", 1)[0]
    return f"{settings.portal_url.rstrip('/')}/waitlist/{subscription_id}/{page}#token={token}"


def confirm_purpose(email: str) -> str:
    return f"confirm:{email.lower()}"


def offer_purpose(offers: int) -> str:
    return f"offer:{offers}"


UNSUBSCRIBE = "unsubscribe"


@dataclass(frozen=True)
class WaitlistMails:
    mailbox: Mailbox
    settings: BookingSettings

    async def ask_to_confirm(
        self,
        session: AsyncSession,
        subscription: Subscription,
        service: str,
        office: str | None,
        time_zone: str,
    ) -> bool:
        assert subscription.email is not None
        return await self._send(
            session,
            OPT_IN,
            subscription,
            {
                "service": service,
                "office": office,
                "confirm_url": waitlist_url(
                    self.settings, subscription.id, confirm_purpose(subscription.email)
                ),
            },
            time_zone=time_zone,
        )

    async def offer(
        self, session: AsyncSession, subscription: Subscription, described: BookingOut
    ) -> bool:
        return await self._send(
            session,
            OFFER,
            subscription,
            {
                "service": ", ".join(service.name for service in described.services),
                "office": described.office,
                "starts_at": described.starts_at,
                "ends_at": described.ends_at,
                "expires_at": subscription.offer_expires_at,
                "code": described.code,
                "offer_url": waitlist_url(
                    self.settings, subscription.id, offer_purpose(subscription.offers)
                ),
            },
            time_zone=described.office.time_zone,
        )

    async def _send(
        self,
        session: AsyncSession,
        template: str,
        subscription: Subscription,
        context: dict[str, Any],
        *,
        time_zone: str,
    ) -> bool:
        if subscription.email is None:
            return False
        return await self.mailbox.enqueue(
            session,
            subject_key=f"waitlist:{subscription.id}",
            template=template,
            sequence=subscription.offers,
            to=subscription.email,
            to_name=subscription.name,
            context={
                **context,
                "name": subscription.name,
                # As instants at local noon: the templates' date filter shows instants.
                "first_day": _noon(subscription.first_day, time_zone),
                "last_day": _noon(subscription.last_day, time_zone),
                "unsubscribe_url": waitlist_url(self.settings, subscription.id, UNSUBSCRIBE),
                "portal_url": self.settings.portal_url,
            },
            letterhead=self.settings.letterhead_of(subscription.tenant),
            locale=subscription.language,
            tenant=subscription.tenant,
            time_zone=time_zone,
        )


def _noon(day: date, time_zone: str) -> datetime:
    return datetime.combine(day, time(12), tzinfo=ZoneInfo(time_zone))
