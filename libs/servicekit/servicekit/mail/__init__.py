"""Mail to people: one path for every service that writes to citizens or staff.

The map, in the order a mail travels::

    settings.MailSettings   a service's SMTP server, sender, templates folder, retry horizon
    templates.MailTemplates  Jinja2 files per language (subject, text, HTML), Babel dates
    message.compose          the EmailMessage: text + HTML (+ iMIP invitation), safe headers
    outbox.Mailbox           queues it in the transaction of the change (MailColumns table)
    dispatcher.MailDispatcher  sends due mails over SMTP, retries, records failures
    dispatcher.pending_mail  what ``rathaus-<service> mail`` shows operators
    sink.MailSink            the local SMTP server of ``make run`` and the tests

A service wires it like its events (see docs/architecture.md, "Wiring a feature")::

    class OutboxMail(MailColumns, Base): pass           # + a migration

    mailbox = Mailbox.of_service(
        settings, OutboxMail, MailTemplates.of_package("booking", override=...)
    )
    create_service_app(settings, ..., mailbox=mailbox)  # starts the dispatcher

    await mailbox.enqueue(session, subject_key=f"booking:{booking.id}",
                          template="confirmation", to=email, context={...},
                          letterhead=Letterhead(...), locale="de")

Errors a service maps to its answers: :class:`InvalidMail` (:class:`InvalidAddress`,
:class:`HeaderInjection`), both ``ValueError``; :data:`MailAddress` refuses a bad address in a
request schema with 422 before any of this runs.
"""

from servicekit.mail.addresses import (
    MailAddress,
    checked_address,
    masked,
    refuse_control_characters,
)
from servicekit.mail.dispatcher import MailDispatcher, pending_mail
from servicekit.mail.errors import HeaderInjection, InvalidAddress, InvalidMail
from servicekit.mail.message import Invitation, Letterhead, as_sent, compose
from servicekit.mail.outbox import Mailbox, MailColumns, MailStatus
from servicekit.mail.settings import MailSettings, SmtpSecurity, SmtpServer
from servicekit.mail.templates import MailTemplates, RenderedMail, choose_locale

__all__ = [
    "HeaderInjection",
    "InvalidAddress",
    "InvalidMail",
    "Invitation",
    "Letterhead",
    "MailAddress",
    "MailColumns",
    "MailDispatcher",
    "MailSettings",
    "MailStatus",
    "MailTemplates",
    "Mailbox",
    "RenderedMail",
    "SmtpSecurity",
    "SmtpServer",
    "as_sent",
    "checked_address",
    "choose_locale",
    "compose",
    "masked",
    "pending_mail",
    "refuse_control_characters",
]
