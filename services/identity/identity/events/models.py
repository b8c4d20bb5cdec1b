"""The events identity publishes (see servicekit.events): its outbox, and their types.

``de.rathaus.identity.account.erased`` (subject: the account id, ``tenant``: its AGS), data
``{"account_id", "email"}`` with the address the account had: an account was erased on the
person's request, so every service erases what it keeps about them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from identity.db import Base
from servicekit.events import (
    EventTables,
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


event_tables = EventTables.declare(Base, module=__name__, inbox=False)
outbox_of = event_tables.outbox

if TYPE_CHECKING:  # a class made by a call is no type to mypy: it sees the columns they map
    OutboxDelivery = OutboxDeliveryColumns
    OutboxEvent = OutboxEventColumns
else:
    OutboxEvent = event_tables.outbox_event
    OutboxDelivery = event_tables.outbox_delivery
