"""identity's mails as a citizen receives them: sent over real SMTP to a sink on loopback
(the kit's :class:`MailSink`) by the kit's dispatcher, and parsed back."""

from __future__ import annotations

import re
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

from fastapi import FastAPI

from identity.mail.models import OutboxMail
from servicekit.mail import MailDispatcher, SmtpSecurity, SmtpServer
from servicekit.mail.sink import MailSink

_CODE_LINE = re.compile(r"^    (\S+)\r?$", re.MULTILINE)


class Postbox:
    """The mails that reached the sink, in the order they arrived."""

    def __init__(self, sink: MailSink, port: int) -> None:
        self.sink = sink
        self.port = port
        self.read = 0

    async def deliver(self, app: FastAPI) -> list[EmailMessage]:
        """Send what ``app`` has queued (as its dispatcher would) and the mails that
        arrived since the last call."""
        dispatcher = MailDispatcher(
            OutboxMail,
            app.state.database.sessionmaker,
            smtp=SmtpServer("127.0.0.1", self.port, SmtpSecurity.NONE, timeout_s=5),
            envelope_from=app.state.settings.mail_from_address,
        )
        await dispatcher.send_due()
        arrived = self.sink.stored[self.read :]
        self.read = len(self.sink.stored)
        messages = []
        for path in arrived:
            message = message_from_bytes(path.read_bytes(), policy=default)
            assert isinstance(message, EmailMessage)
            messages.append(message)
        return messages


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def code_in(message: EmailMessage) -> str:
    """The code a mail gives (on a line of its own, indented)."""
    [code] = _CODE_LINE.findall(text_of(message))
    html = html_of(message)
    assert code in html
    return str(code)
