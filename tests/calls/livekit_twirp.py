"""A LiveKit RoomService for the tests: a real HTTP server that speaks LiveKit's Twirp protocol
(protobuf bodies under ``/twirp/livekit.RoomService/<Method>``, errors as Twirp's JSON) for the
two calls documents makes, DeleteRoom and UpdateParticipant.

LiveKit's own server is an external component we cannot run here (no ``livekit-server`` in
Debian, and binaries are not downloaded), so this stands in for it at the wire: documents'
requests go through ``livekit-api``'s own RoomService client over HTTP, and their tokens are
checked with ``livekit-api``'s own TokenVerifier and the grants LiveKit requires (``roomCreate``
to delete a room, ``roomAdmin`` of that room to change a participant).
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from google.protobuf.message import Message
from livekit.api import TokenVerifier
from livekit.protocol.models import ParticipantInfo
from livekit.protocol.room import (
    DeleteRoomRequest,
    DeleteRoomResponse,
    UpdateParticipantRequest,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class FakeRoomService:
    verifier: TokenVerifier
    participants: dict[str, dict[str, ParticipantInfo]] = field(default_factory=dict)
    """Per room, who is in it (the tests put them there, as LiveKit would on a join)."""
    deleted: list[str] = field(default_factory=list)
    updates: list[UpdateParticipantRequest] = field(default_factory=list)
    a_room_deleted: threading.Event = field(default_factory=threading.Event)
    """Set at each DeleteRoom (the server runs in a thread of its own)."""

    def join(self, room: str, identity: str) -> None:
        self.participants.setdefault(room, {})[identity] = ParticipantInfo(identity=identity)

    def app(self) -> Starlette:
        prefix = "/twirp/livekit.RoomService/"
        return Starlette(
            routes=[
                Route(prefix + "DeleteRoom", self._handler(self._delete_room), methods=["POST"]),
                Route(
                    prefix + "UpdateParticipant",
                    self._handler(self._update_participant),
                    methods=["POST"],
                ),
            ]
        )

    def _handler(
        self, method: Callable[[bytes, TokenGrants], Message | Response]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            if request.headers.get("content-type") != "application/protobuf":
                return _error(400, "malformed", "protobuf only")
            token = request.headers.get("authorization", "").removeprefix("Bearer ")
            try:
                claims = self.verifier.verify(token)
            except Exception:
                return _error(401, "unauthenticated", "invalid token")
            video = claims.video
            grants = TokenGrants(
                room_create=bool(video and video.room_create),
                room_admin=bool(video and video.room_admin),
                room=(video.room if video else None) or "",
            )
            answer = method(await request.body(), grants)
            if isinstance(answer, Response):
                return answer
            return Response(answer.SerializeToString(), media_type="application/protobuf")

        return handle

    def _delete_room(self, body: bytes, grants: TokenGrants) -> Message | Response:
        request = DeleteRoomRequest.FromString(body)
        if not grants.room_create:
            return _error(403, "permission_denied", "needs roomCreate")
        self.deleted.append(request.room)
        self.a_room_deleted.set()
        if self.participants.pop(request.room, None) is None:
            return _error(404, "not_found", "requested room does not exist")
        return DeleteRoomResponse()

    def _update_participant(self, body: bytes, grants: TokenGrants) -> Message | Response:
        request = UpdateParticipantRequest.FromString(body)
        if not grants.room_admin or grants.room != request.room:
            return _error(403, "permission_denied", "needs roomAdmin of the room")
        participant = self.participants.get(request.room, {}).get(request.identity)
        if participant is None:
            return _error(404, "not_found", "participant does not exist")
        self.updates.append(request)
        participant.permission.CopyFrom(request.permission)
        return participant


@dataclass(frozen=True)
class TokenGrants:
    room_create: bool
    room_admin: bool
    room: str


def _error(status: int, code: str, message: str) -> Response:
    return JSONResponse({"code": code, "msg": message}, status_code=status)
