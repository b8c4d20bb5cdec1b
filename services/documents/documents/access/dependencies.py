"""Who is calling about a booking's documents, as routes declare it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Path, Request

from documents.access.checks import Caller
from documents.access.errors import BookingUnavailableProblem
from documents.clients.booking import MANAGE_TOKEN_HEADER, CallerCredentials
from servicekit.auth import InvalidToken, OptionalPrincipal, TokenKeysUnavailable

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
"""An id booking gives out (a booking's, a checklist item's)."""


async def _caller(
    request: Request,
    principal: OptionalPrincipal,
    manage_token: Annotated[
        str | None,
        Header(
            alias=MANAGE_TOKEN_HEADER,
            description="The secret of a booking's manage link, for citizens without an account",
            max_length=512,
        ),
    ] = None,
) -> Caller:
    if principal is None and not manage_token:
        raise InvalidToken(
            "Send an access token or the booking's manage-link token.", token_present=False
        )
    return Caller(
        principal=principal,
        credentials=CallerCredentials(
            authorization=request.headers.get("authorization") if principal else None,
            manage_token=manage_token,
        ),
    )


CallerDep = Annotated[Caller, Depends(_caller)]
"""The caller's credentials (a token, a manage link's secret), to be passed on to booking."""
BookingId = Annotated[str, Path(pattern=ID_PATTERN, description="The booking's id")]
ACCESS_PROBLEMS = (InvalidToken, BookingUnavailableProblem, TokenKeysUnavailable)
"""What a route that takes :data:`CallerDep` and asks booking may answer besides its own."""
