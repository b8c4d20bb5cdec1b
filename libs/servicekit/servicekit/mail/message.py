"""A mail as it is sent: a standard-library :class:`~email.message.EmailMessage`.

Its shape, for a mail client to show the HTML and fall back to the text (RFC 2046), and for
calendar programs to offer the invitation (iMIP, RFC 6047)::

    multipart/mixed                                      (only with an invitation)
      multipart/alternative
        text/plain; charset=utf-8
        text/html; charset=utf-8
        text/calendar; method=REQUEST|CANCEL; charset=utf-8
      application/ics; name=invitation.ics              (the same, as an attachment)

Every header value is checked here: no line breaks (they would start headers of their own)
and only addresses :func:`~servicekit.mail.addresses.checked_address` accepts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from typing import Literal

from servicekit.db import utcnow
from servicekit.mail.addresses import checked_address, refuse_line_breaks
from servicekit.mail.errors import InvalidMail

CalendarMethod = Literal["REQUEST", "CANCEL"]
_METHOD_LINE = re.compile(r"^METHOD:(.*?)\r?$", re.MULTILINE)


@dataclass(frozen=True)
class Letterhead:
    """Who a municipality's mail comes from, and what its footer says (per tenant)."""

    sender_name: str
    reply_to: str | None = None
    imprint: str | None = None
    """The Impressum in a few lines: the authority, its address, who represents it."""
    imprint_url: str | None = None
    privacy_url: str | None = None
    """The privacy notice (Datenschutzhinweise) that applies to the mail."""


@dataclass(frozen=True)
class Invitation:
    """An iCalendar object to send as an iMIP invitation (or its cancellation)."""

    ics: str
    method: CalendarMethod
    filename: str = "invitation.ics"

    def __post_init__(self) -> None:
        # A calendar program acts on the part's METHOD; one that disagrees with the
        # object's own would offer to accept a cancellation.
        found = _METHOD_LINE.findall(self.ics)
        if found != [self.method]:
            raise InvalidMail(f"the calendar object's METHOD is {found}, not {self.method}")
        refuse_line_breaks("filename", self.filename)


def compose(
    *,
    sender_name: str,
    sender_address: str,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    to_name: str | None = None,
    reply_to: str | None = None,
    invitation: Invitation | None = None,
    date: datetime | None = None,
) -> EmailMessage:
    """The mail, or InvalidMail (InvalidAddress, HeaderInjection) when a header would be
    wrong. Its Message-ID is new and lies in the sender's domain."""
    sender = _address(sender_name, sender_address)
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = _address(to_name or "", to)
    if reply_to is not None:
        message["Reply-To"] = _address("", reply_to)
    message["Subject"] = refuse_line_breaks("subject", subject)
    message["Date"] = format_datetime(date or utcnow())
    message["Message-ID"] = make_msgid(domain=sender.domain)
    # RFC 3834: written by a program, so an out-of-office reply stays away; the second is
    # Exchange's own word for the same.
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    # Quoted-printable keeps every part 7-bit clean for any relay, and still readable.
    message.set_content(text, cte="quoted-printable")
    if html is not None:
        message.add_alternative(html, subtype="html", cte="quoted-printable")
    if invitation is not None:
        message.add_alternative(
            invitation.ics,
            subtype="calendar",
            cte="quoted-printable",
            params={"method": invitation.method},
        )
        message.add_attachment(
            invitation.ics.encode("utf-8"),
            maintype="application",
            subtype="ics",
            filename=invitation.filename,
        )
    for part in message.iter_parts():
        _drop_inner_mime_versions(part)
    return message


def as_sent(message: EmailMessage) -> bytes:
    """The bytes an SMTP server receives (CRLF line ends): what the outbox keeps."""
    return message.as_bytes(policy=SMTP)


def _drop_inner_mime_versions(part: MIMEPart) -> None:
    # The standard library gives each part it adds a MIME-Version of its own; RFC 2045 asks
    # for one, on the message.
    del part["MIME-Version"]
    if part.is_multipart():
        for inner in part.iter_parts():
            _drop_inner_mime_versions(inner)


def _address(name: str, address: str) -> Address:
    refuse_line_breaks("name", name)
    local, _, domain = checked_address(address).partition("@")
    return Address(display_name=name, username=local, domain=domain)
