from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from documents.audit.models import AccessRecord
from servicekit.repository import SessionRepository


class AccessLogRepository(SessionRepository):
    """Appends to the access log; there is deliberately no update or delete here (so not the
    kit's ``Repository``, which would offer ``delete``)."""

    async def append(self, record: AccessRecord) -> AccessRecord:
        self.session.add(record)
        await self.session.flush()
        return record

    async def for_document(self, document_id: str) -> Sequence[AccessRecord]:
        result = await self.session.scalars(
            select(AccessRecord)
            .where(AccessRecord.document_id == document_id)
            .order_by(AccessRecord.id)
        )
        return result.all()

    async def for_booking(self, booking_id: str) -> Sequence[AccessRecord]:
        result = await self.session.scalars(
            select(AccessRecord)
            .where(AccessRecord.booking_id == booking_id)
            .order_by(AccessRecord.id)
        )
        return result.all()
