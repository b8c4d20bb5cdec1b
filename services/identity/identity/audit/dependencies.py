"""The audit trail on the request's session, and where the caller acts from."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from identity.audit.repository import AuditRepository
from identity.audit.service import AuditLog
from identity.clock import ClockDep
from servicekit.dependencies import ClientAddress, SessionDep


async def audit_log(session: SessionDep, clock: ClockDep) -> AuditLog:
    return AuditLog(AuditRepository(session), clock)


AuditDep = Annotated[AuditLog, Depends(audit_log)]


ClientIpDep = ClientAddress
"""The caller's address, as an :class:`~identity.audit.service.Actor` records it."""
