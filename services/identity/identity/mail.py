"""Outgoing mail (email verification). Development keeps messages in memory; no SMTP yet."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Protocol, runtime_checkable

from fastapi import Depends

from servicekit.dependencies import app_state


@dataclass(frozen=True)
class Message:
    to: str
    subject: str
    body: str


@runtime_checkable
class Mailer(Protocol):
    async def send(self, message: Message) -> None: ...


@dataclass
class MemoryMailer:
    """Keeps sent messages for tests and the development setup to read."""

    sent: list[Message] = field(default_factory=list)

    async def send(self, message: Message) -> None:
        self.sent.append(message)


MailerDep = Annotated[Mailer, Depends(app_state("mailer", Mailer))]
