"""The mail outbox: a service's mails, written in the transaction of the change they tell of.

A service maps the table on its own Base (``class OutboxMail(MailColumns, Base): pass``, with
a migration like any table) and writes through a :class:`Mailbox`: the mail is rendered and
composed at once and kept as the bytes the SMTP server will receive, so a later attempt
sends exactly the same mail (the same Message-ID: a recipient's client shows it once).

A mail is identified by what it is about (``subject_key``, e.g. ``booking:<id>``), its
template and a ``sequence`` (a booking's reschedule number): a retried request that queues the
same mail again changes nothing (a unique constraint; the insert ignores the conflict).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from email.message import EmailMessage
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from servicekit.db import UTCDateTime, insert_ignoring_conflicts, utcnow
from servicekit.mail.addresses import checked_address
from servicekit.mail.message import Invitation, Letterhead, as_sent, compose
from servicekit.mail.settings import MailSettings
from servicekit.mail.templates import DEFAULT_TIME_ZONE, MailTemplates


class MailStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    """Refused for good by the server, or given up after ``give_up_after``: see last_error."""


class MailColumns:
    """``class OutboxMail(MailColumns, Base): pass`` in a service that sends mail."""

    __tablename__ = "outbox_mails"

    if TYPE_CHECKING:  # the declarative Base of the mapping class provides it

        def __init__(self, **values: Any) -> None: ...

    @declared_attr.directive
    @classmethod
    def __table_args__(cls) -> tuple[Any, ...]:
        return (
            UniqueConstraint("subject_key", "template", "sequence"),
            Index("ix_outbox_mails_due", "status", "next_attempt_at"),
        )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    subject_key: Mapped[str] = mapped_column(String(200))
    """What the mail is about, e.g. ``booking:<id>``."""
    template: Mapped[str] = mapped_column(String(100))
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    tenant: Mapped[str | None] = mapped_column(String(8), default=None)
    recipient: Mapped[str] = mapped_column(String(320))
    message: Mapped[bytes | None] = mapped_column(LargeBinary)
    """The mail as sent; erased (with the recipient) a while after it was sent."""
    status: Mapped[str] = mapped_column(String(10), default=MailStatus.PENDING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    """When it was first due: the retries give up ``give_up_after`` later."""
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claim: Mapped[str | None] = mapped_column(String(32), default=None)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)


class Mailbox:
    """Where a service's mails are queued (see the module's docstring)."""

    def __init__(
        self,
        model: type[MailColumns],
        templates: MailTemplates,
        *,
        from_address: str,
        from_name: str = "Rathaus",
    ) -> None:
        self.model = model
        self.templates = templates
        self.from_address = checked_address(from_address)
        self.from_name = from_name

    @classmethod
    def of_service(
        cls, settings: MailSettings, model: type[MailColumns], templates: MailTemplates
    ) -> Mailbox:
        return cls(
            model,
            templates,
            from_address=settings.mail_from_address,
            from_name=settings.mail_from_name,
        )

    async def enqueue(
        self,
        session: AsyncSession,
        *,
        subject_key: str,
        template: str,
        to: str,
        context: Mapping[str, Any],
        letterhead: Letterhead,
        locale: str | None = None,
        sequence: int = 0,
        to_name: str | None = None,
        tenant: str | None = None,
        time_zone: str = DEFAULT_TIME_ZONE,
        invitation: Invitation | None = None,
        due_at: datetime | None = None,
    ) -> bool:
        """Render mail ``template`` to ``to`` and queue it in ``session``'s transaction;
        False when this (subject_key, template, sequence) was queued before (nothing
        changes). ``locale`` is a language or an Accept-Language header; ``due_at`` holds it
        back until then (a reminder). InvalidMail when an address or header is wrong."""
        rendered = self.templates.render(
            template,
            context,
            letterhead=letterhead,
            locale=self.templates.choose_locale(locale),
            tenant=tenant,
            time_zone=time_zone,
        )
        message = compose(
            sender_name=letterhead.sender_name or self.from_name,
            sender_address=self.from_address,
            to=to,
            to_name=to_name,
            reply_to=letterhead.reply_to,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            invitation=invitation,
        )
        return await self.add(
            session,
            message,
            subject_key=subject_key,
            template=template,
            sequence=sequence,
            tenant=tenant,
            due_at=due_at,
        )

    async def add(
        self,
        session: AsyncSession,
        message: EmailMessage,
        *,
        subject_key: str,
        template: str,
        sequence: int = 0,
        tenant: str | None = None,
        due_at: datetime | None = None,
    ) -> bool:
        """Queue a composed mail (to its one ``To`` address); False when it was queued
        before. For mails not written from templates."""
        [recipient] = message["To"].addresses
        now = utcnow()
        due = due_at or now
        statement = insert_ignoring_conflicts(session, self.model).values(
            subject_key=subject_key,
            template=template,
            sequence=sequence,
            tenant=tenant,
            recipient=recipient.addr_spec,
            message=as_sent(message),
            status=MailStatus.PENDING,
            created_at=now,
            due_at=due,
            next_attempt_at=due,
            attempts=0,
        )
        result = await session.execute(statement)
        return bool(getattr(result, "rowcount", 0) == 1)
