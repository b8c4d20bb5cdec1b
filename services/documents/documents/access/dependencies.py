"""Who is calling about a booking's documents, as routes declare it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from pydantic import WithJsonSchema

from documents.access.checks import Caller
from documents.access.errors import BookingUnavailableProblem
from documents.clients.booking import CallerCredentials
from servicekit.auth import InvalidToken, PrincipalOrManageToken, TokenKeysUnavailable

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
"""An id booking gives out (a booking's, a checklist item's)."""


async def _caller(request: Request, holder: PrincipalOrManageToken) -> Caller:
    return Caller(
        principal=holder.principal,
        credentials=CallerCredentials(
            authorization=request.headers.get("authorization") if holder.principal else None,
            manage_token=holder.manage_token,
        ),
    )


CallerDep = Annotated[Caller, Depends(_caller)]
"""The caller's credentials (a token, a manage link's secret), to be passed on to booking."""
BookingId = Annotated[
    str,
    Path(pattern=ID_PATTERN, description="The booking's id"),
    # Booking's ids are UUIDs, as its contract says; any other id is not found.
    WithJsonSchema({"type": "string", "format": "uuid", "description": "The booking's id"}),
]
ACCESS_PROBLEMS = (InvalidToken, BookingUnavailableProblem, TokenKeysUnavailable)
"""What a route that takes :data:`CallerDep` and asks booking may answer besides its own."""
