from __future__ import annotations

from servicekit.problems import Conflict, NotFound, ValidationFailed


class SubscriptionNotFound(NotFound):
    type_slug = "waitlist-subscription-not-found"
    title = "No such waitlist subscription"


class DaysNotWaitable(ValidationFailed):
    type_slug = "waitlist-days-invalid"
    title = "The days cannot be waited for"


class WaitlistLimitReached(Conflict):
    type_slug = "waitlist-limit-reached"
    title = "Too many waitlist subscriptions for this address"


class NoOffer(Conflict):
    type_slug = "waitlist-no-offer"
    title = "No seat is held for this subscription now"


class SubscriptionEnded(Conflict):
    type_slug = "waitlist-subscription-ended"
    title = "The subscription has ended"
