from __future__ import annotations

from identity.db import Base
from servicekit.mail import MailColumns


class OutboxMail(MailColumns, Base):
    """identity's mails on their way (:mod:`servicekit.mail.outbox`)."""
