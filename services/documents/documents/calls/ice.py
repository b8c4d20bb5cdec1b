"""STUN and TURN servers for a call, with TURN credentials that expire.

The TURN REST scheme (coturn's ``use-auth-secret``): the username is ``<expiry>:<subject>``
(expiry in Unix seconds) and the credential is base64(HMAC-SHA1(shared secret, username)).
coturn recomputes the credential from the same secret and refuses it after the expiry, so
nothing is stored and a credential cannot be stretched. The subject is a pseudonym of the
booking and the caller (coturn logs usernames): no personal data reaches the TURN server.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from documents.calls.livekit import LiveKitJoin


class IceServer(BaseModel):
    """One entry of RTCConfiguration.iceServers."""

    urls: list[str]
    username: str | None = None
    credential: str | None = None


class IceServersOut(BaseModel):
    provider: Literal["webrtc", "livekit"] = Field(
        default="webrtc",
        description=(
            "webrtc: peer to peer with these ICE servers, signalling on the room's WebSocket; "
            "livekit: the municipality's LiveKit server (see livekit)"
        ),
    )
    ice_servers: list[IceServer] = Field(
        description="Pass as RTCConfiguration.iceServers (STUN, and TURN with credentials)"
    )
    livekit: LiveKitJoin | None = Field(
        default=None, description="With the livekit provider: where to connect, with what token"
    )
    expires_at: AwareDatetime | None = Field(
        default=None,
        description="When the TURN credentials (or the LiveKit token) stop working",
    )
    opens_at: AwareDatetime = Field(description="The call's window: from")
    closes_at: AwareDatetime = Field(description="The call's window: until (exclusive)")


def turn_username(expires_at: datetime, subject: str) -> str:
    return f"{int(expires_at.timestamp())}:{subject}"


def turn_credential(secret: str, username: str) -> str:
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def turn_subject(secret: str, booking_id: str, actor: str) -> str:
    """A stable pseudonym of the caller in this booking's call."""
    mac = hmac.new(secret.encode(), f"subject\0{booking_id}\0{actor}".encode(), hashlib.sha256)
    return mac.hexdigest()[:20]


def ice_servers(
    *,
    stun_urls: list[str],
    turn_urls: list[str],
    secret: str | None,
    booking_id: str,
    actor: str,
    expires_at: datetime,
) -> list[IceServer]:
    servers: list[IceServer] = []
    if stun_urls:
        servers.append(IceServer(urls=stun_urls))
    if turn_urls and secret is not None:
        username = turn_username(expires_at, turn_subject(secret, booking_id, actor))
        servers.append(
            IceServer(
                urls=turn_urls, username=username, credential=turn_credential(secret, username)
            )
        )
    return servers


def credential_expiry(now: datetime, closes_at: datetime, ttl_s: int) -> datetime:
    """The earlier of the window's end and ``ttl_s`` from now, whole seconds."""
    end = min(closes_at.timestamp(), now.timestamp() + ttl_s)
    return datetime.fromtimestamp(int(end), UTC)
