"""The LiveKit provider: where a municipality runs a LiveKit server, its calls go there.

The same endpoint that answers ICE servers (``.../room/call/ice-servers``) then answers the
LiveKit server's URL and a short-lived access token for the appointment's room (LiveKit's own
JWT, made with ``livekit-api``): clerks get ``room_admin``, the citizen does not. The token ends
with the call's window. A participant's identity is a pseudonym (role and a hash), so LiveKit
learns no account ids; its metadata carries what a room event needs (the booking's tenant, id
and appointment time, the role).

LiveKit tells documents what happens in a room by signed webhooks (a JWT of the server's API
key whose ``sha256`` claim covers the body, checked with ``livekit-api``'s WebhookReceiver):
a participant joined or left, the room finished. Each becomes a room event in the timeline.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from livekit.api import AccessToken, TokenVerifier, VideoGrants, WebhookReceiver
from livekit.protocol.webhook import WebhookEvent
from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator

from documents.rooms.models import RoomEventKind

ROOM_PREFIX = "rathaus"


class LiveKitServer(BaseModel):
    """A municipality's LiveKit server: its URL and API key (``DOCUMENTS_LIVEKIT``)."""

    url: str = Field(description="Where clients connect, e.g. wss://video.musterstadt.de")
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
    pseudonym: str,
    now: datetime,
    closes_at: datetime,
) -> tuple[LiveKitJoin, datetime]:
    """A token for the appointment's room, and when it expires (the window's end at latest)."""
    ttl = min(closes_at - now, timedelta(seconds=server.token_ttl_s))
    role: Literal["citizen", "clerk"] = "clerk" if clerk else "citizen"
    room = room_name(tenant, booking_id)
    metadata = ParticipantMetadata(
        tenant=tenant, booking_id=booking_id, appointment_at=appointment_at, role=role
    )
    token = (
        AccessToken(server.api_key, server.api_secret.get_secret_value())
        .with_identity(f"{role}-{pseudonym}")
        .with_name(role)
        .with_metadata(metadata.model_dump_json())
        .with_grants(
            VideoGrants(
                room_join=True,
                room=room,
                room_admin=clerk,
                can_publish=True,
                can_subscribe=True,
                can_publish_data=True,
            )
        )
        .with_ttl(ttl)
        .to_jwt()
    )
    return LiveKitJoin(url=server.url, room=room, token=token), now + ttl


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
    return RoomHappening(
        tenant,
        booking_id,
        metadata.appointment_at,
        kind,
        metadata.role,
        f"livekit:{event.participant.identity}",
    )
