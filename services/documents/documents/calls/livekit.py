"""The LiveKit provider: where a municipality runs a LiveKit server, its calls go there.

The same endpoint that answers ICE servers (``.../room/call/ice-servers``) then answers the
LiveKit server's URL and a short-lived access token for the appointment's room (LiveKit's own
JWT, made with ``livekit-api``): clerks get ``room_admin``, the citizen does not. The token ends
with the call's window. A participant's identity is a pseudonym (role and a hash), so LiveKit
learns no account ids; its metadata carries what a room event needs (the booking's tenant, id
and appointment time, the role).

The waiting room: LiveKit has no lobby, but a participant's permissions can change while it is
in the room (RoomService.UpdateParticipant; the client SDKs follow). So the citizen's token
lets them join the room only, publishing and subscribing nothing: the clerks see them arrive
(and hear nothing), the citizen sees and hears no one. A clerk admits them through documents
(``POST .../room/call/livekit/admit``), which gives the participant their permissions and
records ``call_admitted``; a token the citizen fetches after that (a reload) carries them at
once, until a clerk ends the call.

LiveKit tells documents what happens in a room by signed webhooks (a JWT of the server's API
key whose ``sha256`` claim covers the body, checked with ``livekit-api``'s WebhookReceiver):
a participant joined (a citizen without permissions: waiting) or left, the room finished.
Each becomes a room event in the timeline, once: the webhook's id goes into the inbox, so a
delivery LiveKit repeats adds nothing. At the window's end documents closes the room
(RoomService.DeleteRoom, :mod:`documents.calls.closing`), which disconnects everyone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import aiohttp
from livekit.api import AccessToken, TokenVerifier, VideoGrants, WebhookReceiver
from livekit.api.room_service import RoomService
from livekit.api.twirp_client import ServerError, ServerErrorCode
from livekit.protocol.models import ParticipantPermission
from livekit.protocol.room import DeleteRoomRequest, UpdateParticipantRequest
from livekit.protocol.webhook import WebhookEvent
from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator

from documents.rooms.models import RoomEventKind

ROOM_PREFIX = "rathaus"


class LiveKitServer(BaseModel):
    """A municipality's LiveKit server: its URL and API key (``DOCUMENTS_LIVEKIT``)."""

    url: str = Field(description="Where clients connect, e.g. wss://video.musterstadt.de")
    api_url: str | None = Field(
        default=None,
        description="Where documents reaches its API (RoomService), e.g. http://livekit:7880; "
        "the url by default",
    )
    api_key: str = Field(min_length=1, max_length=200)
    api_secret: SecretStr
    token_ttl_s: int = Field(default=3600, ge=60, le=86_400)

    @field_validator("api_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 32:
            raise ValueError("a LiveKit API secret needs at least 32 characters")
        return value


class LiveKitJoin(BaseModel):
    url: str = Field(description="The LiveKit server to connect to")
    room: str = Field(description="The appointment's room on it")
    token: str = Field(description="LiveKit access token (JWT) for that room, until expires_at")


def room_name(tenant: str, booking_id: str) -> str:
    return f"{ROOM_PREFIX}-{tenant}-{booking_id.lower()}"


def join_token(
    server: LiveKitServer,
    *,
    tenant: str,
    booking_id: str,
    appointment_at: datetime,
    clerk: bool,
    admitted: bool,
    pseudonym: str,
    now: datetime,
    closes_at: datetime,
) -> tuple[LiveKitJoin, datetime]:
    """A token for the appointment's room, and when it expires (the window's end at latest).
    A citizen not ``admitted`` yet may join only (the waiting room, see the module)."""
    ttl = min(closes_at - now, timedelta(seconds=server.token_ttl_s))
    role: Literal["citizen", "clerk"] = "clerk" if clerk else "citizen"
    room = room_name(tenant, booking_id)
    metadata = ParticipantMetadata(
        tenant=tenant, booking_id=booking_id, appointment_at=appointment_at, role=role
    )
    token = (
        AccessToken(server.api_key, server.api_secret.get_secret_value())
        .with_identity(participant_identity(role, pseudonym))
        .with_name(role)
        .with_metadata(metadata.model_dump_json())
        .with_grants(
            VideoGrants(
                room_join=True,
                room=room,
                room_admin=clerk,
                can_publish=clerk or admitted,
                can_subscribe=clerk or admitted,
                can_publish_data=clerk or admitted,
                can_update_own_metadata=False,
            )
        )
        .with_ttl(ttl)
        .to_jwt()
    )
    return LiveKitJoin(url=server.url, room=room, token=token), now + ttl


CITIZEN_IDENTITY = r"^citizen-[0-9a-f]{20}$"
"""A citizen's participant identity: the role and a pseudonym (of the booking and the caller)."""


def participant_identity(role: Literal["citizen", "clerk"], pseudonym: str) -> str:
    return f"{role}-{pseudonym}"


ADMITTED = ParticipantPermission(can_subscribe=True, can_publish=True, can_publish_data=True)


class ParticipantMetadata(BaseModel):
    """What documents puts into a participant's token, and reads back from LiveKit's webhooks."""

    tenant: str
    booking_id: str
    appointment_at: datetime
    role: Literal["citizen", "clerk"]


class InvalidWebhook(Exception):
    """Not a webhook of a configured LiveKit server (signature, hash or body)."""


@dataclass(frozen=True)
class RoomHappening:
    tenant: str
    booking_id: str
    appointment_at: datetime | None
    kind: RoomEventKind
    role: Literal["citizen", "clerk"]
    actor: str


def verified_event(
    servers: dict[str, LiveKitServer], body: str, authorization: str
) -> tuple[str, WebhookEvent]:
    """The webhook's event and the tenant whose LiveKit server signed it."""
    token = authorization.removeprefix("Bearer ").strip()
    for tenant, server in servers.items():
        receiver = WebhookReceiver(
            TokenVerifier(server.api_key, server.api_secret.get_secret_value())
        )
        try:
            return tenant, receiver.receive(body, token)
        except Exception:  # livekit-api raises bare exceptions for every refusal
            continue
    raise InvalidWebhook("no configured LiveKit server signed this webhook")


class NotInRoom(Exception):
    """LiveKit knows no such participant (or room)."""


class LiveKitUnreachable(Exception):
    """LiveKit's API did not answer, or answered with an error."""


API_TIMEOUT = aiohttp.ClientTimeout(total=10)


class RoomControl:
    """The two RoomService calls documents makes, on one HTTP session (``livekit-api``)."""

    def __init__(self, http: aiohttp.ClientSession, server: LiveKitServer) -> None:
        # Our own server, not LiveKit Cloud: no failover to regions it does not have.
        self._service = RoomService(
            http,
            server.api_url or server.url,
            server.api_key,
            server.api_secret.get_secret_value(),
            failover=False,
        )

    async def admit(self, room: str, identity: str) -> None:
        """Give a waiting participant what an admitted one may (publish, subscribe)."""
        request = UpdateParticipantRequest(room=room, identity=identity, permission=ADMITTED)
        try:
            await self._service.update_participant(request)
        except ServerError as exc:
            if exc.code == ServerErrorCode.NOT_FOUND:
                raise NotInRoom(identity) from exc
            raise LiveKitUnreachable(str(exc)) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise LiveKitUnreachable(str(exc)) from exc

    async def close(self, room: str) -> None:
        """Delete the room, disconnecting everyone in it; a room LiveKit no longer has (it
        closes empty rooms itself) is closed as well."""
        try:
            await self._service.delete_room(DeleteRoomRequest(room=room))
        except ServerError as exc:
            if exc.code != ServerErrorCode.NOT_FOUND:
                raise LiveKitUnreachable(str(exc)) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise LiveKitUnreachable(str(exc)) from exc


_KINDS = {
    "participant_joined": RoomEventKind.CALL_JOINED,
    "participant_left": RoomEventKind.CALL_LEFT,
    "room_finished": RoomEventKind.CALL_ENDED,
}


def happening(tenant: str, event: WebhookEvent) -> RoomHappening | None:
    """The room event a LiveKit webhook makes, or None (another kind, another tenant's room)."""
    kind = _KINDS.get(event.event)
    prefix = f"{ROOM_PREFIX}-{tenant}-"
    if kind is None or not event.room.name.startswith(prefix):
        return None
    booking_id = event.room.name.removeprefix(prefix)
    if kind is RoomEventKind.CALL_ENDED:
        return RoomHappening(tenant, booking_id, None, kind, "clerk", "livekit")
    try:
        metadata = ParticipantMetadata.model_validate(json.loads(event.participant.metadata))
    except (ValueError, ValidationError):
        return None
    if metadata.tenant != tenant or metadata.booking_id.lower() != booking_id:
        return None
    if (
        kind is RoomEventKind.CALL_JOINED
        and metadata.role == "citizen"
        and not event.participant.permission.can_subscribe
    ):
        kind = RoomEventKind.CALL_WAITING  # in the waiting room (see the module)
    return RoomHappening(
        tenant,
        booking_id,
        metadata.appointment_at,
        kind,
        metadata.role,
        f"livekit:{event.participant.identity}",
    )
