"""Who may touch a booking's documents.

Booking is the authority on bookings: we pass the caller's credentials on and get the
checklist back only when booking lets them see that booking. On top, a clerk must belong to the
booking's municipality. Anyone else learns nothing, not even that the booking exists: 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from documents.access.errors import BookingNotFound, BookingUnavailableProblem
from documents.clients.booking import (
    BookingChecklist,
    BookingClient,
    BookingUnavailable,
    CallerCredentials,
)
from servicekit.auth import Principal

CLERK_ROLES = ("clerk", "admin")


class Role(StrEnum):
    CITIZEN = "citizen"
    CLERK = "clerk"


@dataclass(frozen=True)
class Caller:
    principal: Principal | None
    credentials: CallerCredentials

    @property
    def actor(self) -> str:
        return self.principal.subject if self.principal else "manage-link"


@dataclass(frozen=True)
class Access:
    booking: BookingChecklist
    role: Role
    caller: Caller

    @property
    def is_clerk(self) -> bool:
        return self.role is Role.CLERK


async def resolve_access(
    booking: BookingClient, booking_id: str, caller: Caller, *, reuse: bool = False
) -> Access:
    """What the caller may do with the booking; ``reuse``: booking's yes to these credentials
    from the last few seconds will do (for reading documents, never for changing anything)."""
    try:
        checklist = await booking.checklist(booking_id, caller.credentials, reuse=reuse)
    except BookingUnavailable as exc:
        raise BookingUnavailableProblem() from exc
    if checklist is None or checklist.booking_id.lower() != booking_id.lower():
        raise BookingNotFound()
    principal = caller.principal
    if principal is not None and principal.tenant != checklist.tenant:
        raise BookingNotFound()
    if principal is not None and principal.has_role(*CLERK_ROLES):
        return Access(booking=checklist, role=Role.CLERK, caller=caller)
    if principal is None or principal.has_role("citizen") or caller.credentials.manage_token:
        return Access(booking=checklist, role=Role.CITIZEN, caller=caller)
    # Any other role (a partner client, a platform administrator) gets no citizen rights here,
    # whatever booking lets it see.
    raise BookingNotFound()
