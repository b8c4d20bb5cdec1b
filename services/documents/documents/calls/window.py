"""When an appointment's video call is open: from a while before its start until its end
plus a grace (``DOCUMENTS_CALL_OPENS_BEFORE_S``, ``DOCUMENTS_CALL_GRACE_S``), half-open."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from documents.clients.booking import BookingChecklist
from documents.settings import DocumentsSettings


@dataclass(frozen=True)
class CallWindow:
    opens_at: datetime
    closes_at: datetime

    def is_open(self, now: datetime) -> bool:
        return self.opens_at <= now < self.closes_at


def window_of(booking: BookingChecklist, settings: DocumentsSettings) -> CallWindow:
    return CallWindow(
        opens_at=booking.starts_at - timedelta(seconds=settings.call_opens_before_s),
        closes_at=booking.ends_at + timedelta(seconds=settings.call_grace_s),
    )
