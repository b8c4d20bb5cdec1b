"""The video call's signalling messages, version 1: JSON text frames on the room's WebSocket.

Each frame is one JSON object with ``"v": 1`` and a ``"type"``. A client sends::

    offer / answer    {"v": 1, "type": "offer", "sdp": "...", "to": "<peer>"?}
    candidate         {"v": 1, "type": "candidate", "candidate": "...", "sdpMid": "0",
                       "sdpMLineIndex": 0, "to": "<peer>"?}   (RTCIceCandidateInit's names)
    admit             {"v": 1, "type": "admit", "peer": "<peer>"?}   a clerk lets a waiting
                       citizen in (without ``peer``: every waiting citizen)
    end               {"v": 1, "type": "end"}   a clerk ends the call for everyone

and receives ``welcome`` (its own peer id, role and state, when the window closes), ``peer``
(someone's state: waiting, joined, admitted, left), ``admitted``, the other side's
``offer`` / ``answer`` / ``candidate`` (``peer`` names the sender), ``ended`` and ``error``
(a message that was refused; the socket stays open). Signals go between a citizen and the
clerks only, and only once the citizen is admitted. Anything else closes the socket with a
code of :class:`CloseCode` and a reason.
"""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

VERSION = 1
SUBPROTOCOL = "rathaus.call.v1"
"""The WebSocket subprotocol a client may offer; the server then names it in its answer."""

SDP_MAX_CHARS = 20_000
CANDIDATE_MAX_CHARS = 1_000

PeerId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
Role = Literal["citizen", "clerk"]
PeerState = Literal["waiting", "joined", "admitted", "left"]


class CloseCode(IntEnum):
    """Why the server closed a call's socket (the reason says more, in English)."""

    NORMAL = 1000
    TOO_BIG = 1009
    """A frame above ``DOCUMENTS_CALL_MAX_MESSAGE_BYTES``."""
    TRY_AGAIN_LATER = 1013
    """This process holds as many call sockets as it may."""
    ENDED = 4000
    """A clerk ended the call."""
    MALFORMED = 4400
    """Not a version 1 message: not JSON, a binary frame, an unknown type or field."""
    TOKEN_EXPIRED = 4401
    """The access token expired; reconnect with a fresh one."""
    ACCESS_LOST = 4403
    """Booking no longer lets the caller see the booking (cancelled, another office...)."""
    WINDOW_CLOSED = 4408
    """The appointment's window (its end plus the grace) is over."""
    FLOOD = 4429
    """More messages than ``DOCUMENTS_CALL_MESSAGES_PER_S`` (with its burst) allow."""


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1]


class OfferIn(_In):
    type: Literal["offer"]
    sdp: Annotated[str, Field(min_length=1, max_length=SDP_MAX_CHARS)]
    to: PeerId | None = None


class AnswerIn(_In):
    type: Literal["answer"]
    sdp: Annotated[str, Field(min_length=1, max_length=SDP_MAX_CHARS)]
    to: PeerId | None = None


class CandidateIn(_In):
    type: Literal["candidate"]
    candidate: Annotated[str, Field(max_length=CANDIDATE_MAX_CHARS)]
    """Empty: the end of the candidates (as a browser says it)."""
    sdpMid: Annotated[str, Field(max_length=64)] | None = (
        None  # the browser's names (RTCIceCandidateInit)
    )
    sdpMLineIndex: Annotated[int, Field(ge=0, le=64)] | None = None
    usernameFragment: Annotated[str, Field(max_length=256)] | None = None
    to: PeerId | None = None


class AdmitIn(_In):
    type: Literal["admit"]
    peer: PeerId | None = None


class EndIn(_In):
    type: Literal["end"]


ClientMessage = Annotated[
    OfferIn | AnswerIn | CandidateIn | AdmitIn | EndIn, Field(discriminator="type")
]
SignalIn = OfferIn | AnswerIn | CandidateIn
CLIENT_MESSAGE: TypeAdapter[OfferIn | AnswerIn | CandidateIn | AdmitIn | EndIn] = TypeAdapter(
    ClientMessage
)


class _Out(BaseModel):
    v: Literal[1] = 1


class WelcomeOut(_Out):
    type: Literal["welcome"] = "welcome"
    peer: PeerId = Field(description="This socket's id in the call")
    role: Role
    state: PeerState
    closes_at: AwareDatetime = Field(description="When the call's window ends")
    protocol: str = SUBPROTOCOL


class PeerOut(_Out):
    type: Literal["peer"] = "peer"
    peer: PeerId
    role: Role
    state: PeerState


class AdmittedOut(_Out):
    type: Literal["admitted"] = "admitted"


class OfferOut(_Out):
    type: Literal["offer"] = "offer"
    peer: PeerId = Field(description="Who sent it")
    role: Role
    sdp: str


class AnswerOut(_Out):
    type: Literal["answer"] = "answer"
    peer: PeerId
    role: Role
    sdp: str


class CandidateOut(_Out):
    type: Literal["candidate"] = "candidate"
    peer: PeerId
    role: Role
    candidate: str
    sdpMid: str | None = None
    sdpMLineIndex: int | None = None
    usernameFragment: str | None = None


class EndedOut(_Out):
    type: Literal["ended"] = "ended"


class ErrorOut(_Out):
    type: Literal["error"] = "error"
    reason: str


ServerMessage = Annotated[
    WelcomeOut | PeerOut | AdmittedOut | OfferOut | AnswerOut | CandidateOut | EndedOut | ErrorOut,
    Field(discriminator="type"),
]
SERVER_MESSAGE: TypeAdapter[
    WelcomeOut | PeerOut | AdmittedOut | OfferOut | AnswerOut | CandidateOut | EndedOut | ErrorOut
] = TypeAdapter(ServerMessage)


def window_text(opens_at: datetime, closes_at: datetime) -> str:
    return f"The call is open from {opens_at.isoformat()} until {closes_at.isoformat()}."


BEARER_SUBPROTOCOL = "rathaus.bearer."
MANAGE_SUBPROTOCOL = "rathaus.manage."


CALL_PROTOCOL_DESCRIPTION = """\
Documents for appointments: checked, encrypted uploads, consultation rooms, review and retention;
cases handed between municipalities as JWE.

## The video call (WebSocket, not listed among the paths)

`GET /documents/v1/bookings/{booking_id}/room/call` upgraded to a WebSocket (through the gateway
as every route) carries the signalling of the room's video call; the media flows peer to peer,
or through the TURN servers of `GET .../room/call/ice-servers`. Who: the booking's citizen
(`Authorization: Bearer`, or `X-Manage-Token`) and the clerks of its office; browsers, which
cannot set headers on a WebSocket, offer the credential as a subprotocol `rathaus.bearer.<token>`
or `rathaus.manage.<token>` beside `rathaus.call.v1`. When: a confirmed booking, from
`DOCUMENTS_CALL_OPENS_BEFORE_S` (15 minutes) before its start until its end plus
`DOCUMENTS_CALL_GRACE_S` (15 minutes). Anyone else is refused before the upgrade with
problem+json: 401 without credentials, 404 (as for a booking that does not exist) for a stranger,
the citizen of another booking or a clerk of another office, 409 `call-not-open` (with `opens_at`,
`closes_at`) or `call-booking-not-confirmed` for a participant at the wrong time.

Messages, version 1: one JSON object per text frame, `{"v": 1, "type": ...}`.
The client sends `offer` / `answer` `{"sdp", "to"?}`, `candidate` `{"candidate", "sdpMid",
"sdpMLineIndex", "usernameFragment"?, "to"?}` (RTCIceCandidateInit), and, clerks only, `admit`
`{"peer"?}` (a waiting citizen; without `peer` every one) and `end`. The server sends `welcome`
`{"peer", "role", "state", "closes_at", "protocol"}` first, `peer` `{"peer", "role", "state":
waiting|joined|admitted|left}`, `admitted`, the other side's `offer` / `answer` / `candidate`
(`peer` and `role` name the sender), `ended`, and `error` `{"reason"}` for a message it refused
(a waiting citizen's signal, a citizen's `admit`). A citizen waits until a clerk admits them:
before, nothing they send reaches anyone and they hear no signals. Every happening is a room
event in the timeline (`/room/timeline`) and the stream: `call_waiting`, `call_joined`,
`call_admitted`, `call_left`, `call_ended`.

Close codes: 1009 a frame above `DOCUMENTS_CALL_MAX_MESSAGE_BYTES` (32 KiB); 1013 the server
holds as many call sockets as it may, or the client reads too slowly; 4000 a clerk ended the
call; 4400 not a v1 message (not JSON, a binary frame, an unknown type or field; the reason
names it); 4401 the access token expired (reconnect with a fresh one); 4403 booking no longer
lets the caller in; 4408 the window is over; 4429 more messages than
`DOCUMENTS_CALL_MESSAGES_PER_S` (20, bursts of 100) allow.
"""
