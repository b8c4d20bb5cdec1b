"""The LiveKit provider: where the municipality runs LiveKit, the call's endpoint hands out
LiveKit tokens for the appointment's room (checked with livekit-api's own verifier), and
LiveKit's signed webhooks become room events (the signature round trip, and its refusals)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from google.protobuf.json_format import MessageToJson
from livekit.api import AccessToken, TokenVerifier
from livekit.protocol.models import ParticipantInfo, Room
from livekit.protocol.webhook import WebhookEvent

from tests.attack.world import World
from tests.calls.signalling import GUARD_S
from tests.live_rathaus import TENANT

pytestmark = pytest.mark.asyncio(loop_scope="module")

API_KEY = "APIrathaustest"
API_SECRET = "livekit-secret-of-the-tests-0123456789abcdef"
DOCUMENTS = {
    "livekit": {
        TENANT: {
            "url": "wss://video.musterstadt.example",
            "api_key": API_KEY,
            "api_secret": API_SECRET,
        }
    }
}


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


async def test_livekit_tokens_for_the_room_clerks_administer_it_citizens_do_not(
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


def _signed(event: WebhookEvent, secret: str = API_SECRET) -> tuple[str, str]:
    """The body and Authorization header LiveKit sends (a JWT whose sha256 covers the body)."""
    body = MessageToJson(event)
    digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    return body, AccessToken(API_KEY, secret).with_sha256(digest).to_jwt()


async def test_livekit_webhooks_become_room_events_and_forged_ones_are_refused(
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

    timeline = await http.get(
        f"/documents/v1/bookings/{world.mine.booking_id}/room/timeline",
        params={"limit": 200},
        headers=world.headers["citizen"],
    )
    calls = [(e["kind"], e["actor_role"]) for e in timeline.json()["items"]]
    assert calls[-2:] == [("call_joined", "clerk"), ("call_ended", "clerk")]

    # A body changed after signing, a token of another secret, none at all: 401, nothing kept.
    tampered = body.replace("participant_joined", "participant_left")
    forged_body, forged = _signed(joined, secret="another-secret-of-at-least-32-characters")
    for content, auth in ((tampered, authorization), (forged_body, forged), (body, "")):
        refused = await http.post(url, content=content, headers={**headers, "authorization": auth})
        assert refused.status_code == 401, refused.text
        assert refused.json()["type"].endswith(":invalid-livekit-webhook")
    after = await http.get(
        f"/documents/v1/bookings/{world.mine.booking_id}/room/timeline",
        params={"limit": 200},
        headers=world.headers["citizen"],
    )
    assert len(after.json()["items"]) == len(timeline.json()["items"])
