"""Handing mail to an SMTP server, and what its answers mean for the outbox.

An answer in the 2xx range takes the mail; a 5xx refuses it for good (RFC 5321: "permanent
negative completion"; sending it again would be refused again); a 4xx, a timeout, a refused or
broken connection are passing: the mail is tried again later.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType

import aiosmtplib

from servicekit.mail.settings import SmtpSecurity, SmtpServer


class Outcome(StrEnum):
    SENT = "sent"
    DEFERRED = "deferred"
    """Not taken now: tried again after a pause."""
    REFUSED = "refused"
    """Refused for good: recorded as failed."""


@dataclass(frozen=True)
class Attempt:
    outcome: Outcome
    reason: str | None = None


SENT = Attempt(Outcome.SENT)


def _answered(code: int, message: str) -> Attempt:
    outcome = Outcome.REFUSED if 500 <= code < 600 else Outcome.DEFERRED
    return Attempt(outcome, f"answered {code} {' '.join(message.split())}"[:300])


def _not_reached(error: BaseException) -> Attempt:
    return Attempt(Outcome.DEFERRED, f"not reached: {error.__class__.__name__} {error}"[:300])


class SmtpSession:
    """One connection to the server, opened at the first mail and again after it broke;
    ``async with SmtpSession(server) as smtp: await smtp.send(...)``."""

    def __init__(self, server: SmtpServer) -> None:
        self.server = server
        self._client: aiosmtplib.SMTP | None = None
        self._unreachable: Attempt | None = None

    async def __aenter__(self) -> SmtpSession:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._close()

    async def send(self, envelope_from: str, recipient: str, message: bytes) -> Attempt:
        """Hand over one mail; never raises for what the server or network does. After the
        server could not be reached once, the session's later mails are deferred with the
        same reason at once, so a batch does not wait out one timeout per mail."""
        if self._unreachable is not None:
            return self._unreachable
        if self._client is None:
            connected = await self._connect()
            if connected is not None:
                self._unreachable = connected
                return connected
        assert self._client is not None
        try:
            await self._client.sendmail(envelope_from, [recipient], message)
        except aiosmtplib.SMTPRecipientsRefused as refused:
            first = refused.recipients[0]
            return _answered(first.code, first.message)
        except aiosmtplib.SMTPResponseException as answer:
            if answer.code == 421:  # the server is closing the connection (RFC 5321 3.8)
                await self._close()
            return _answered(answer.code, answer.message)
        except (aiosmtplib.SMTPException, OSError) as error:
            # Disconnected or timed out mid-mail: the next mail opens a new connection.
            await self._close()
            return _not_reached(error)
        except ValueError as error:  # an address aiosmtplib will not put in the envelope
            return Attempt(Outcome.REFUSED, f"not sendable: {error}"[:300])
        return SENT

    async def _connect(self) -> Attempt | None:
        server = self.server
        client = aiosmtplib.SMTP(
            hostname=server.host,
            port=server.port,
            timeout=server.timeout_s,
            use_tls=server.security is SmtpSecurity.TLS,
            # False, not None: aiosmtplib's None upgrades only when the server offers it.
            start_tls=server.security is SmtpSecurity.STARTTLS,
            tls_context=server.tls_context,
            username=server.username,
            password=server.password.get_secret_value() if server.password else None,
        )
        try:
            await client.connect()
        except aiosmtplib.SMTPResponseException as answer:
            # Greeting or login refused: the server's fault or ours, never the mail's.
            client.close()
            return Attempt(
                Outcome.DEFERRED, f"connection refused: {answer.code} {answer.message}"[:300]
            )
        except (aiosmtplib.SMTPException, OSError) as error:
            client.close()
            return _not_reached(error)
        self._client = client
        return None

    async def _close(self) -> None:
        client, self._client = self._client, None
        if client is None or not client.is_connected:
            return
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError):
            client.close()
