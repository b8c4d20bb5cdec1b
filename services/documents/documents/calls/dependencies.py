from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from documents.access.checks import Caller
from documents.calls.hub import CallHub
from documents.calls.protocol import BEARER_SUBPROTOCOL, MANAGE_SUBPROTOCOL
from documents.calls.repository import LiveKitRoomRepository
from documents.calls.service import CallService, LiveKitCalls
from documents.clients.booking import MANAGE_TOKEN_HEADER, BookingClient, CallerCredentials
from documents.rooms.repository import RoomRepository
from documents.settings import SettingsDep
from servicekit.auth import InvalidToken
from servicekit.auth.verifier import TokenVerifier
from servicekit.dependencies import SessionDep, app_state

CallHubDep = Annotated[CallHub, Depends(app_state("call_hub", CallHub))]
"""This process's call sockets by room (see :mod:`documents.calls.hub`)."""


async def _calls(
    booking: Annotated[BookingClient, Depends(app_state("booking_client", BookingClient))],
    settings: SettingsDep,
) -> CallService:
    return CallService(booking, settings)


CallsDep = Annotated[CallService, Depends(_calls)]


async def _livekit_calls(session: SessionDep) -> LiveKitCalls:
    return LiveKitCalls(RoomRepository(session), LiveKitRoomRepository(session))


LiveKitCallsDep = Annotated[LiveKitCalls, Depends(_livekit_calls)]
"""The LiveKit provider's state, on the request's session (never on a socket's: it would be
held for the whole call)."""
VerifierDep = Annotated[TokenVerifier, Depends(app_state("token_verifier", TokenVerifier))]


async def socket_caller(connection: HTTPConnection, verifier: TokenVerifier) -> Caller:
    """Who opens a call's socket: ``Authorization: Bearer`` or ``X-Manage-Token`` as on every
    route, or (for browsers, which cannot set headers on a WebSocket) the same credential as
    an offered subprotocol ``rathaus.bearer.<token>`` or ``rathaus.manage.<token>``."""
    authorization = connection.headers.get("authorization")
    manage_token = connection.headers.get(MANAGE_TOKEN_HEADER)
    for offered in connection.scope.get("subprotocols") or ():
        if offered.startswith(BEARER_SUBPROTOCOL) and authorization is None:
            authorization = "Bearer " + offered.removeprefix(BEARER_SUBPROTOCOL)
        elif offered.startswith(MANAGE_SUBPROTOCOL) and manage_token is None:
            manage_token = offered.removeprefix(MANAGE_SUBPROTOCOL)
    if manage_token is not None and len(manage_token) > 512:
        manage_token = None
    principal = None
    if authorization is not None:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidToken("Send the access token as 'Authorization: Bearer <token>'.")
        principal = await verifier.principal(token.strip())
    if principal is None and not manage_token:
        raise InvalidToken(
            "Send an access token or the booking's manage-link token.", token_present=False
        )
    return Caller(
        principal=principal,
        credentials=CallerCredentials(
            authorization=authorization if principal else None, manage_token=manage_token
        ),
    )
