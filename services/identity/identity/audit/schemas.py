from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from identity.audit.models import AuditEvent


class AuditEventOut(BaseModel):
    at: datetime
    action: str
    outcome: str
    tenant: str | None
    actor: str | None
    subject: str | None
    client_ip: str | None
    details: dict[str, Any] | None

    @classmethod
    def of(cls, event: AuditEvent) -> AuditEventOut:
        return cls(
            at=event.at,
            action=event.action,
            outcome=event.outcome,
            tenant=event.tenant_ags,
            actor=event.actor,
            subject=event.subject,
            client_ip=event.client_ip,
            details=json.loads(event.details) if event.details else None,
        )


class AuditEventList(BaseModel):
    items: list[AuditEventOut]
