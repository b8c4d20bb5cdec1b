"""Booking's mail outbox (the kit's table on booking's Base; see ``servicekit.mail``)."""

from __future__ import annotations

from booking.db import Base
from servicekit.mail import MailColumns


class OutboxMail(MailColumns, Base):
    pass
