"""The events identity publishes (see servicekit.events): its outbox, and their types.

``de.rathaus.identity.account.erased`` (subject: the account id, ``tenant``: its AGS), data
``{"account_id", "email"}`` with the address the account had: an account was erased on the
person's request, so every service erases what it keeps about them.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from identity.db import Base
from identity.settings import IdentitySettings
from servicekit.events import (
    Outbox,
    OutboxDeliveryColumns,
    OutboxEventColumns,
    published_events,
)

ACCOUNT_ERASED = "de.rathaus.identity.account.erased"


class AccountErased(BaseModel):
    account_id: str = Field(description="The account's id (the subject of its tokens)")
    email: str = Field(description="The address the account had, to find what it booked")


webhooks = published_events(
    {
        ACCOUNT_ERASED: (
            AccountErased,
            "An account was erased on the person's request: erase what you keep about them.",
        )
    }
)


class OutboxEvent(OutboxEventColumns, Base):
    pass


class OutboxDelivery(OutboxDeliveryColumns, Base):
    pass


def outbox_of(settings: IdentitySettings) -> Outbox:
    return Outbox.of_service(settings, OutboxEvent, OutboxDelivery)
