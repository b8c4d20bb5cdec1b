"""The LiveKit provider: where the municipality runs LiveKit, the call's endpoint hands out
LiveKit tokens for the appointment's room (checked with livekit-api's own verifier), the
citizen waits without permissions until a clerk admits them, LiveKit's signed webhooks become
room events once each (the signature round trip, its refusals, a repeated delivery), and the
room is closed at the window's end. LiveKit's RoomService is the tests' Twirp server
(tests/calls/livekit_twirp.py: a LiveKit server cannot be run here)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from google.protobuf.json_format import MessageToJson
from livekit.api import AccessToken, TokenVerifier
from livekit.protocol.models import ParticipantInfo, ParticipantPermission, Room
from livekit.protocol.webhook import WebhookEvent

from servicekit.testing.live import free_port, run_live_server
from tests.attack.world import World
from tests.calls.livekit_twirp import FakeRoomService
from tests.calls.signalling import GUARD_S
from tests.live_rathaus import TENANT, move_appointment

pytestmark = pytest.mark.asyncio(loop_scope="module")

API_KEY = "APIrathaustest"
API_SECRET = "livekit-secret-of-the-tests-0123456789abcdef"
LIVEKIT_PORT = free_port()
DOCUMENTS = {
    "livekit": {
        TENANT: {
            "url": "wss://video.musterstadt.example",
            "api_url": f"http://127.0.0.1:{LIVEKIT_PORT}",
            "api_key": API_KEY,
            "api_secret": API_SECRET,
        }
    },
    "call_close_interval_s": 0.2,
    # Booking's answer is not reused: the last test moves the appointment.
    "access_reuse_s": 0,
}


@pytest.fixture(scope="module")
def livekit() -> Iterator[FakeRoomService]:
    fake = FakeRoomService(TokenVerifier(API_KEY, API_SECRET))
    server = run_live_server(fake.app(), port=LIVEKIT_PORT)
    try:
        yield fake
    finally:
        server.stop()


@pytest.fixture
async def http(world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=world.gateway, timeout=GUARD_S) as client:
        yield client


async def _join(http: httpx.AsyncClient, world: World, who: str) -> dict[str, Any]:
    answer = await http.get(
        f"/documents/v1/bookings/{world.mine.booking_id}/room/call/ice-servers",
        headers=world.headers[who],
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_livekit_tokens_for_the_room_clerks_administer_it_citizens_wait(
    world: World, http: httpx.AsyncClient
) -> None:
    citizen, clerk = await _join(http, world, "citizen"), await _join(http, world, "clerk")
    room = f"rathaus-{TENANT}-{world.mine.booking_id}"
    verifier = TokenVerifier(API_KEY, API_SECRET)
    for joined, admin in ((citizen, False), (clerk, True)):
        assert joined["provider"] == "livekit"
        assert joined["ice_servers"] == []
        assert joined["livekit"]["url"] == "wss://video.musterstadt.example"
        assert joined["livekit"]["room"] == room
        claims = verifier.verify(joined["livekit"]["token"])
        assert claims.video is not None
        assert claims.video.room == room
        assert claims.video.room_join is True
        assert bool(claims.video.room_admin) is admin
        # The waiting room: until admitted, the citizen may join, not publish or subscribe.
        assert bool(claims.video.can_publish) is admin
        assert bool(claims.video.can_subscribe) is admin
        assert bool(claims.video.can_publish_data) is admin
        assert claims.name == ("clerk" if admin else "citizen")
        expires = datetime.fromisoformat(joined["expires_at"])
        assert datetime.now(UTC) < expires <= datetime.fromisoformat(joined["closes_at"])
    # Pseudonyms: neither the account nor the booking is the identity.
    identities = {
        TokenVerifier(API_KEY, API_SECRET).verify(j["livekit"]["token"]).identity
        for j in (citizen, clerk)
    }
    assert len(identities) == 2
    assert all(world.subjects["citizen"] not in i for i in identities)
    # Another key's verifier refuses it.
    with pytest.raises(Exception, match=r"(?i)signature"):
        TokenVerifier(API_KEY, "another-secret-of-at-least-32-characters").verify(
            citizen["livekit"]["token"]
        )
    stranger = await http.get(
        f"/documents/v1/bookings/{world.mine.booking_id}/room/call/ice-servers",
        headers=world.headers["other_clerk"],
    )
    assert stranger.status_code == 404


def _claims(joined: dict[str, Any]) -> Any:
    return TokenVerifier(API_KEY, API_SECRET).verify(joined["livekit"]["token"])


async def _timeline(http: httpx.AsyncClient, world: World) -> list[tuple[str, str]]:
    answer = await http.get(
        f"/documents/v1/bookings/{world.mine.booking_id}/room/timeline",
        params={"limit": 200},
        headers=world.headers["citizen"],
    )
    assert answer.status_code == 200, answer.text
    return [(e["kind"], e["actor_role"]) for e in answer.json()["items"]]


async def test_a_clerk_admits_the_waiting_citizen_who_then_may_publish(
    world: World, http: httpx.AsyncClient, livekit: FakeRoomService
) -> None:
    citizen = await _join(http, world, "citizen")
    room, identity = citizen["livekit"]["room"], _claims(citizen).identity
    livekit.join(room, identity)  # the citizen's client connected to LiveKit with the token
    admit = f"/documents/v1/bookings/{world.mine.booking_id}/room/call/livekit/admit"

    refused = await http.post(admit, json={"identity": identity}, headers=world.headers["citizen"])
    assert refused.status_code == 403, refused.text
    assert refused.json()["type"].endswith(":call-clerk-only")
    stranger = await http.post(
        admit, json={"identity": identity}, headers=world.headers["other_clerk"]
    )
    assert stranger.status_code == 404, stranger.text
    for bad in ({"identity": "clerk-0123456789abcdef0123"}, {"identity": identity, "x": 1}, {}):
        malformed = await http.post(admit, json=bad, headers=world.headers["clerk"])
        assert malformed.status_code == 422, malformed.text
    absent = await http.post(
        admit, json={"identity": "citizen-" + "0" * 20}, headers=world.headers["clerk"]
    )
    assert absent.status_code == 404, absent.text
    assert absent.json()["type"].endswith(":call-participant-not-found")
    assert livekit.updates == []

    admitted = await http.post(admit, json={"identity": identity}, headers=world.headers["clerk"])
    assert admitted.status_code == 204, admitted.text
    (update,) = livekit.updates
    assert (update.room, update.identity) == (room, identity)
    assert update.permission == ParticipantPermission(
        can_subscribe=True, can_publish=True, can_publish_data=True
    )
    assert (await _timeline(http, world))[-1] == ("call_admitted", "clerk")
    # A token the citizen fetches now (a reload) carries the permissions at once.
    again = _claims(await _join(http, world, "citizen"))
    assert again.identity == identity
    assert again.video is not None
    assert again.video.can_publish is True
    assert again.video.can_subscribe is True


def _signed(event: WebhookEvent, secret: str = API_SECRET) -> tuple[str, str]:
    """The body and Authorization header LiveKit sends (a JWT whose sha256 covers the body)."""
    body = MessageToJson(event)
    digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    return body, AccessToken(API_KEY, secret).with_sha256(digest).to_jwt()


async def test_livekit_webhooks_become_room_events_once_and_forged_ones_are_refused(
    world: World, http: httpx.AsyncClient
) -> None:
    clerk = await _join(http, world, "clerk")
    claims = TokenVerifier(API_KEY, API_SECRET).verify(clerk["livekit"]["token"])
    joined = WebhookEvent(
        id="EV_1",
        event="participant_joined",
        room=Room(name=clerk["livekit"]["room"]),
        participant=ParticipantInfo(identity=claims.identity, metadata=claims.metadata),
    )
    body, authorization = _signed(joined)
    url = "/documents/v1/calls/livekit/webhook"
    headers = {"content-type": "application/webhook+json"}
    answer = await http.post(url, content=body, headers={**headers, "authorization": authorization})
    assert answer.status_code == 204, answer.text
    finished = WebhookEvent(
        id="EV_2", event="room_finished", room=Room(name=clerk["livekit"]["room"])
    )
    body2, authorization2 = _signed(finished)
    answer = await http.post(
        url, content=body2, headers={**headers, "authorization": authorization2}
    )
    assert answer.status_code == 204, answer.text

    calls = await _timeline(http, world)
    assert calls[-2:] == [("call_joined", "clerk"), ("call_ended", "clerk")]

    # LiveKit delivers a webhook again when it missed our answer: acknowledged, nothing added.
    for repeated, auth in ((body, authorization), (body2, authorization2)):
        answer = await http.post(url, content=repeated, headers={**headers, "authorization": auth})
        assert answer.status_code == 204, answer.text
    assert await _timeline(http, world) == calls

    # A citizen who joins without permissions is in the waiting room.
    citizen = _claims(await _join(http, world, "citizen"))
    waiting = WebhookEvent(
        id="EV_3",
        event="participant_joined",
        room=Room(name=clerk["livekit"]["room"]),
        participant=ParticipantInfo(
            identity=citizen.identity,
            metadata=citizen.metadata,
            permission=ParticipantPermission(can_subscribe=False, can_publish=False),
        ),
    )
    body3, authorization3 = _signed(waiting)
    answer = await http.post(
        url, content=body3, headers={**headers, "authorization": authorization3}
    )
    assert answer.status_code == 204, answer.text
    calls = await _timeline(http, world)
    assert calls[-1] == ("call_waiting", "citizen")

    # A body changed after signing, a token of another secret, none at all: 401, nothing kept.
    tampered = body.replace("participant_joined", "participant_left")
    forged_body, forged = _signed(joined, secret="another-secret-of-at-least-32-characters")
    for content, auth in ((tampered, authorization), (forged_body, forged), (body, "")):
        refused = await http.post(url, content=content, headers={**headers, "authorization": auth})
        assert refused.status_code == 401, refused.text
        assert refused.json()["type"].endswith(":invalid-livekit-webhook")
    assert await _timeline(http, world) == calls


async def test_the_room_is_closed_on_livekit_at_the_windows_end(
    world: World, http: httpx.AsyncClient, livekit: FakeRoomService
) -> None:
    """Last in the module: the appointment is moved so that its window ends in a moment."""
    grace = timedelta(minutes=15)  # DOCUMENTS_CALL_GRACE_S's default
    starts_at = datetime.now(UTC) - timedelta(minutes=20) - grace + timedelta(seconds=2)
    await move_appointment(world.system.booking_database_url, world.mine.booking_id, starts_at)
    try:
        clerk = await _join(http, world, "clerk")
        room = clerk["livekit"]["room"]
        livekit.join(room, _claims(clerk).identity)
        assert datetime.fromisoformat(clerk["closes_at"]) <= datetime.now(UTC) + timedelta(
            seconds=2
        )
        livekit.a_room_deleted.clear()
        assert room not in livekit.deleted
        assert await asyncio.to_thread(livekit.a_room_deleted.wait, GUARD_S)
        assert livekit.deleted == [room]
        assert room not in livekit.participants  # everyone was disconnected
        assert datetime.now(UTC) >= datetime.fromisoformat(clerk["closes_at"])
    finally:
        await move_appointment(
            world.system.booking_database_url, world.mine.booking_id, datetime.now(UTC)
        )
