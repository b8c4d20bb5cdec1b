"""The events identity publishes (see servicekit.events): its outbox, and their types.

``de.rathaus.identity.account.erased`` (subject: the account id, ``tenant``: its AGS), data
``{"account_id", "email"}`` with the address the account had: an account was erased on the
person's request, so every service erases what it keeps about them.
"""

from __future__ import annotations

from identity.db import Base
from identity.settings import IdentitySettings
from servicekit.events import Outbox, OutboxDeliveryColumns, OutboxEventColumns

ACCOUNT_ERASED = "de.rathaus.identity.account.erased"


class OutboxEvent(OutboxEventColumns, Base):
    pass


class OutboxDelivery(OutboxDeliveryColumns, Base):
    pass


def outbox_of(settings: IdentitySettings) -> Outbox:
    return Outbox.of_service(settings, OutboxEvent, OutboxDelivery)
