"""Two real WebRTC peers (aiortc) as the citizen and the clerk: signalling through the gateway's
WebSocket with real tokens, ICE servers from documents, and the clerk receives video frames of
the citizen's synthetic track, directly and relayed through a real coturn."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aioice.stun import TransactionFailed
from aioice.turn import create_turn_endpoint
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from av import VideoFrame

from documents.calls.ice import turn_credential, turn_username
from tests.attack.world import World
from tests.calls.conftest import TURN_PORT, TURN_SECRET
from tests.calls.signalling import GUARD_S, joined

pytestmark = pytest.mark.asyncio(loop_scope="module")

FRAMES = 5


async def _ice_servers(world: World, headers: dict[str, str]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=world.gateway, timeout=GUARD_S) as http:
        answer = await http.get(
            f"/documents/v1/bookings/{world.mine.booking_id}/room/call/ice-servers",
            headers=headers,
        )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _configuration(servers: dict[str, Any], policy: RTCIceTransportPolicy) -> RTCConfiguration:
    return RTCConfiguration(
        iceServers=[
            RTCIceServer(
                urls=server["urls"],
                username=server.get("username"),
                credential=server.get("credential"),
            )
            for server in servers["ice_servers"]
        ],
        iceTransportPolicy=policy,
    )


def _nominated_types(connection: RTCPeerConnection) -> set[str]:
    """The candidate types of the pair ICE chose (host, srflx, relay), both ends."""
    types: set[str] = set()
    for transceiver in connection.getTransceivers():
        ice = transceiver.receiver.transport.transport
        for pair in ice._connection._nominated.values():
            types.update({pair.local_candidate.type, pair.remote_candidate.type})
    return types


async def _video_call(world: World, policy: RTCIceTransportPolicy) -> set[str]:
    """The citizen calls, the clerk admits and receives frames; the chosen candidate types."""
    citizen_pc = RTCPeerConnection(
        _configuration(await _ice_servers(world, world.headers["citizen"]), policy)
    )
    clerk_pc = RTCPeerConnection(
        _configuration(await _ice_servers(world, world.headers["clerk"]), policy)
    )
    tracks: asyncio.Queue[MediaStreamTrack] = asyncio.Queue()
    clerk_pc.on("track", tracks.put_nowait)
    try:
        async with (
            joined(world, world.mine.booking_id, world.headers["citizen"]) as citizen,
            joined(world, world.mine.booking_id, world.headers["clerk"]) as clerk,
        ):
            me = (await citizen.expect("welcome"))["peer"]
            await clerk.expect("peer", peer=me, state="waiting")
            await clerk.send({"type": "admit", "peer": me})
            await citizen.expect("admitted")
            await clerk.expect("peer", peer=me, state="admitted")

            citizen_pc.addTrack(VideoStreamTrack())
            # aiortc gathers every candidate before the description is set: no trickling.
            await citizen_pc.setLocalDescription(await citizen_pc.createOffer())
            await citizen.send({"type": "offer", "sdp": citizen_pc.localDescription.sdp})

            offer = await clerk.expect("offer")
            await clerk_pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
            await clerk_pc.setLocalDescription(await clerk_pc.createAnswer())
            await clerk.send(
                {"type": "answer", "sdp": clerk_pc.localDescription.sdp, "to": offer["peer"]}
            )
            answer = await citizen.expect("answer")
            await citizen_pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))

            track = await asyncio.wait_for(tracks.get(), GUARD_S)
            assert track.kind == "video"
            for _ in range(FRAMES):
                frame = await asyncio.wait_for(track.recv(), GUARD_S)
                assert isinstance(frame, VideoFrame)
                assert (frame.width, frame.height) == (640, 480)
            chosen = _nominated_types(clerk_pc)
            await clerk.send({"type": "end"})
            await citizen.expect("ended")
            return chosen
    finally:
        await citizen_pc.close()
        await clerk_pc.close()


async def test_the_clerk_sees_the_citizens_video(world: World) -> None:
    chosen = await _video_call(world, RTCIceTransportPolicy.ALL)
    assert chosen, "ICE nominated a pair"


async def test_the_clerk_sees_the_citizens_video_relayed_through_coturn(
    world: World, coturn: int
) -> None:
    chosen = await _video_call(world, RTCIceTransportPolicy.RELAY)
    assert chosen == {"relay"}


async def test_ice_servers_carry_turn_credentials_coturn_accepts(world: World) -> None:
    servers = await _ice_servers(world, world.headers["citizen"])
    stun, turn = servers["ice_servers"]
    assert stun == {"urls": [f"stun:127.0.0.1:{TURN_PORT}"]}
    expiry, _, subject = turn["username"].partition(":")
    expires_at = datetime.fromtimestamp(int(expiry), UTC)
    assert expires_at == datetime.fromisoformat(servers["expires_at"])
    assert datetime.now(UTC) < expires_at <= datetime.fromisoformat(servers["closes_at"])
    # The TURN REST scheme, recomputed here from the shared secret.
    mac = hmac.new(TURN_SECRET.encode(), turn["username"].encode(), hashlib.sha1).digest()
    assert turn["credential"] == base64.b64encode(mac).decode()
    # A pseudonym: neither the booking nor the person is in it, and each person has their own.
    assert world.mine.booking_id not in subject
    clerk = (await _ice_servers(world, world.headers["clerk"]))["ice_servers"][1]
    assert clerk["username"].partition(":")[2] != subject


async def test_coturn_itself_refuses_expired_credentials(world: World, coturn: int) -> None:
    server = ("127.0.0.1", coturn)
    valid = (await _ice_servers(world, world.headers["citizen"]))["ice_servers"][1]
    transport, _ = await create_turn_endpoint(
        asyncio.DatagramProtocol, server, valid["username"], valid["credential"]
    )
    transport.close()
    # Signed with the right secret, but its expiry has passed.
    username = turn_username(datetime.now(UTC) - timedelta(seconds=5), "expired")
    with pytest.raises(TransactionFailed) as refused:
        await create_turn_endpoint(
            asyncio.DatagramProtocol, server, username, turn_credential(TURN_SECRET, username)
        )
    assert refused.value.response.attributes["ERROR-CODE"][0] == 401
    # And a credential of another secret.
    username = turn_username(datetime.now(UTC) + timedelta(hours=1), "forged")
    with pytest.raises(TransactionFailed):
        await create_turn_endpoint(
            asyncio.DatagramProtocol,
            server,
            username,
            turn_credential("another-secret-of-at-least-32-chars!!", username),
        )


@pytest.mark.parametrize("who", ["other_citizen", "other_clerk", "other_admin", "partner"])
async def test_no_one_else_gets_turn_credentials(world: World, who: str) -> None:
    async with httpx.AsyncClient(base_url=world.gateway, timeout=GUARD_S) as http:
        answer = await http.get(
            f"/documents/v1/bookings/{world.mine.booking_id}/room/call/ice-servers",
            headers=world.headers[who],
        )
        anonymous = await http.get(
            f"/documents/v1/bookings/{world.mine.booking_id}/room/call/ice-servers"
        )
    assert answer.status_code == 404, answer.text
    assert "credential" not in answer.text
    assert anonymous.status_code == 401
