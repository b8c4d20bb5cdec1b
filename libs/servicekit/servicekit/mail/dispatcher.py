"""Sending the outbox's due mails; run :meth:`MailDispatcher.run` as a background task.

Replicas share the work: a round claims a batch of due mails for ``claim_s`` with the
outbox bookkeeping of :mod:`servicekit.delivery` (another replica's round skips those rows
instead of waiting for them), so no mail is handed over by two replicas at once. The batch
goes out over one SMTP connection; then each mail is recorded: sent; refused for good (5xx:
failed, with the server's answer); or deferred (4xx, no answer), tried again after the
pauses of :data:`~servicekit.delivery.RETRY_PAUSES_S`, until ``give_up_after`` has passed
since it was due (failed, with the last reason). A replica that dies between handing a mail
over and recording it leaves the claim to expire: the mail is
sent again (at least once; never lost).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from servicekit.db import utcnow
from servicekit.delivery import (
    RELEASED,
    RETRY_PAUSES_S,
    claim_due,
    make_all_due,
    pause_after,
    record_claimed,
    run_rounds,
)
from servicekit.mail.addresses import masked
from servicekit.mail.outbox import MailColumns, MailStatus
from servicekit.mail.settings import MailSettings, SmtpServer
from servicekit.mail.smtp import Attempt, Outcome, SmtpSession

logger = logging.getLogger("servicekit.mail")

KEEP_SENT = timedelta(days=7)
"""How long a sent mail's content and recipient are kept (to answer "did it go out?")."""
KEEP_FAILED = timedelta(days=30)
"""How long a failed mail's are kept, for the municipality to see and retry it."""
REPORT_LINES = 50


@dataclass(frozen=True)
class _Claimed:
    id: int
    template: str
    recipient: str
    message: bytes
    attempts: int
    due_at: datetime


def _claimed(
    id: int, template: str, recipient: str, message: bytes | None, attempts: int, due: datetime
) -> _Claimed:
    assert message is not None  # pending mails have theirs: only finished ones are erased
    return _Claimed(id, template, recipient, message, attempts, due)


class MailDispatcher:
    """Sends an outbox's due mails to one SMTP server (see the module's docstring)."""

    def __init__(
        self,
        model: type[MailColumns],
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        smtp: SmtpServer,
        envelope_from: str,
        give_up_after: timedelta = timedelta(hours=48),
        batch: int = 50,
        claim_s: float = 300.0,
        pauses_s: Sequence[float] = RETRY_PAUSES_S,
        clock: Callable[[], datetime] = utcnow,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.model = model
        self.sessionmaker = sessionmaker
        self.smtp = smtp
        self.envelope_from = envelope_from
        self.give_up_after = give_up_after
        self.batch = batch
        self.claim_s = claim_s
        self.pauses_s = tuple(pauses_s)
        self.clock = clock
        # For /metrics: an ops team alerts on mails deferred for long or refused.
        self._attempts = Counter(
            "mail_send_attempts",
            "Attempts to hand a mail to the SMTP server, by template and outcome",
            ["template", "outcome"],
            registry=registry,
        )

    @classmethod
    def of_service(
        cls,
        settings: MailSettings,
        model: type[MailColumns],
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        registry: CollectorRegistry | None = None,
    ) -> MailDispatcher | None:
        """The dispatcher of a service's settings; None without an SMTP server."""
        smtp = settings.smtp_server()
        if smtp is None:
            return None
        return cls(
            model,
            sessionmaker,
            smtp=smtp,
            envelope_from=settings.mail_from_address,
            give_up_after=settings.mail_give_up_after,
            registry=registry,
        )

    async def send_due(self) -> int:
        """Send every mail that is due now (batch by batch, over one connection); how many
        the server took."""
        sent = 0
        async with SmtpSession(self.smtp) as smtp:
            while True:
                claim, claimed = await self._claim()
                if not claimed:
                    return sent
                attempts = [
                    await smtp.send(self.envelope_from, mail.recipient, mail.message)
                    for mail in claimed
                ]
                await self._record(claim, claimed, attempts)
                sent += sum(1 for attempt in attempts if attempt.outcome is Outcome.SENT)
                if len(claimed) < self.batch:
                    return sent

    async def run(self, interval_s: float) -> None:
        """Send what is due every ``interval_s``, and erase what was finished long ago once
        an hour, until cancelled."""
        await run_rounds(self.send_due, self._erase_old, interval_s, what="sending mail")

    async def _erase_old(self) -> None:
        now = self.clock()
        await self.erase_finished(MailStatus.SENT, now - KEEP_SENT)
        await self.erase_finished(MailStatus.FAILED, now - KEEP_FAILED)

    async def erase_finished(self, status: MailStatus, before: datetime) -> int:
        """Erase the content and recipient of the mails that reached ``status`` (sent or
        failed) before ``before``: a mail holds personal data and is kept no longer than
        needed. The row stays, so the same mail is never queued again. How many."""
        model = self.model
        async with self.sessionmaker() as session:
            result = await session.execute(
                update(model)
                .where(
                    model.status == status,
                    model.finished_at < before,
                    model.message.is_not(None),
                )
                .values(message=None, recipient="")
                .execution_options(synchronize_session=False)
            )
            await session.commit()
        return int(getattr(result, "rowcount", 0))

    async def _claim(self) -> tuple[str, list[_Claimed]]:
        """A claim of its own and the due mails it holds (oldest first)."""
        model = self.model
        async with self.sessionmaker() as session:
            claim = await claim_due(
                session,
                model,
                now=self.clock(),
                batch=self.batch,
                claim_s=self.claim_s,
                pending=model.status == MailStatus.PENDING,
                order_by=(model.next_attempt_at,),
            )
            rows = await session.execute(
                select(
                    model.id,
                    model.template,
                    model.recipient,
                    model.message,
                    model.attempts,
                    model.due_at,
                )
                .where(model.claim == claim)
                .order_by(model.due_at, model.id)
            )
            claimed = [_claimed(*row) for row in rows.all()]
            await session.commit()
        return claim, claimed

    async def _record(
        self, claim: str, claimed: Sequence[_Claimed], attempts: Sequence[Attempt]
    ) -> None:
        model = self.model
        now = self.clock()
        results = list(zip(claimed, attempts, strict=True))
        sent = [mail.id for mail, attempt in results if attempt.outcome is Outcome.SENT]
        async with self.sessionmaker() as session:
            if sent:
                done = {"status": MailStatus.SENT, "finished_at": now}
                await record_claimed(
                    session, model, sent, claim, RELEASED | done | {"attempts": model.attempts + 1}
                )
            for mail, attempt in results:
                outcome = attempt.outcome.value
                if attempt.outcome is not Outcome.SENT:
                    values, outcome = self._unsent(mail, attempt, now)
                    await record_claimed(session, model, [mail.id], claim, values)
                self._attempts.labels(mail.template, outcome).inc()
            await session.commit()

    def _unsent(
        self, mail: _Claimed, attempt: Attempt, now: datetime
    ) -> tuple[dict[str, Any], str]:
        """The row's new values after ``attempt`` failed, and the metric's outcome."""
        attempts = mail.attempts + 1
        values: dict[str, Any] = RELEASED | {"attempts": attempts, "last_error": attempt.reason}
        log = {
            "template": mail.template,
            "recipient": masked(mail.recipient),
            "attempts": attempts,
            "reason": attempt.reason,
        }
        failed = {"status": MailStatus.FAILED, "finished_at": now}
        if attempt.outcome is Outcome.REFUSED:
            logger.warning("mail refused by the SMTP server", extra=log)
            return values | failed, "refused"
        if now >= mail.due_at + self.give_up_after:
            hours = self.give_up_after.total_seconds() / 3600
            reason = f"gave up after {hours:g} h and {attempts} attempts; last: {attempt.reason}"
            logger.error("mail given up", extra=log)
            return values | failed | {"last_error": reason[:500]}, "gave_up"
        pause = pause_after(attempts, self.pauses_s)
        logger.warning("mail deferred", extra=log)
        return values | {"next_attempt_at": now + timedelta(seconds=pause)}, "deferred"


async def pending_mail(
    model: type[MailColumns],
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    retry: bool = False,
    now: datetime | None = None,
) -> str:
    """For operators: the mails not sent yet and those that failed, one line each (the
    recipient masked); with ``retry``, all of them (that still have their content) are due
    now, and a failed one is pending again with a new time to give up."""
    now = now or utcnow()
    open_states = (MailStatus.PENDING, MailStatus.FAILED)
    async with sessionmaker() as session:
        rows = (
            await session.execute(
                select(
                    model.id,
                    model.status,
                    model.template,
                    model.subject_key,
                    model.recipient,
                    model.attempts,
                    model.next_attempt_at,
                    model.last_error,
                    model.message.is_not(None).label("retriable"),
                )
                .where(model.status.in_(open_states))
                .order_by(model.status.desc(), model.id)
            )
        ).all()
        if retry and rows:
            await make_all_due(
                session,
                model,
                now,
                pending=and_(model.status.in_(open_states), model.message.is_not(None)),
                status=MailStatus.PENDING,
                due_at=now,
                finished_at=None,
            )
            await session.commit()
    if not rows:
        return "every mail has been sent"
    counts = {state: sum(1 for row in rows if row.status == state) for state in open_states}
    lines = [f"{counts[MailStatus.PENDING]} pending, {counts[MailStatus.FAILED]} failed"]
    for row in rows[:REPORT_LINES]:
        if retry and row.retriable:
            when = "due now"
        elif row.status == MailStatus.PENDING:
            when = f"next {row.next_attempt_at.isoformat()}"
        else:
            when = "failed" if row.retriable else "failed, content erased"
        lines.append(
            f"#{row.id} {row.template} {row.subject_key} to {masked(row.recipient)}: {when}, "
            f"{row.attempts} attempts, last error: {row.last_error or '-'}"
        )
    if len(rows) > REPORT_LINES:
        lines.append(f"... and {len(rows) - REPORT_LINES} more")
    return "\n".join(lines)
