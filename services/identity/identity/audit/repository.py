from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from identity.audit.models import AuditEvent
from servicekit.repository import Repository


class AuditRepository(Repository[AuditEvent]):
    model = AuditEvent

    async def list(
        self, *, tenant_ags: str | None, action: str | None = None, limit: int = 100
    ) -> Sequence[AuditEvent]:
        query = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        if tenant_ags is not None:
            query = query.where(AuditEvent.tenant_ags == tenant_ags)
        if action is not None:
            query = query.where(AuditEvent.action == action)
        result = await self.session.scalars(query.limit(limit))
        return result.all()
