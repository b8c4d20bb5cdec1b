"""The video call's signalling through the gateway: the waiting room, the relay between the
booking's citizen and the clerks of its office, the room's timeline, and every refusal."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.attack.world import World, _first_slot, book
from tests.calls.signalling import GUARD_S, call_url, joined
from tests.live_rathaus import move_appointment

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def _refusal(
    world: World, booking_id: str, headers: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    """The HTTP answer that refused the upgrade: its status and problem+json."""
    with pytest.raises(InvalidStatus) as refused:
        async with connect(
            call_url(world, booking_id), additional_headers=headers, open_timeout=GUARD_S
        ):
            pass
    response = refused.value.response
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = json.loads(response.body or b"{}")
    return response.status_code, problem


async def _timeline(world: World, booking_id: str, headers: dict[str, str]) -> list[str]:
    async with httpx.AsyncClient(base_url=world.gateway, timeout=GUARD_S) as http:
        answer = await http.get(
            f"/documents/v1/bookings/{booking_id}/room/timeline",
            params={"limit": 200},
            headers=headers,
        )
    assert answer.status_code == 200, answer.text
    return [event["kind"] for event in answer.json()["items"] if event["kind"].startswith("call")]


async def test_the_citizen_waits_until_the_clerk_admits_then_signals_flow_both_ways(
    world: World,
) -> None:
    booking_id = world.mine.booking_id
    before = await _timeline(world, booking_id, world.headers["clerk"])
    async with joined(world, booking_id, world.headers["citizen"]) as citizen:
        welcome = await citizen.expect("welcome")
        assert welcome["role"] == "citizen"
        assert welcome["state"] == "waiting"
        # Nobody hears a waiting citizen.
        await citizen.send({"type": "offer", "sdp": "v=0 too early"})
        assert "admits" in (await citizen.expect("error"))["reason"]

        async with joined(world, booking_id, world.headers["clerk"]) as clerk:
            assert (await clerk.expect("welcome"))["role"] == "clerk"
            waiting = await clerk.expect("peer", role="citizen", state="waiting")
            assert waiting["peer"] == welcome["peer"]
            await citizen.expect("peer", role="clerk", state="joined")

            await clerk.send({"type": "admit", "peer": welcome["peer"]})
            await citizen.expect("admitted")
            await clerk.expect("peer", peer=welcome["peer"], state="admitted")

            await citizen.send({"type": "offer", "sdp": "v=0 offer"})
            offer = await clerk.expect("offer")
            assert offer["sdp"] == "v=0 offer"
            assert offer["peer"] == welcome["peer"]
            assert offer["role"] == "citizen"
            await clerk.send({"type": "answer", "sdp": "v=0 answer", "to": offer["peer"]})
            assert (await citizen.expect("answer"))["sdp"] == "v=0 answer"
            candidate = {
                "type": "candidate",
                "candidate": "candidate:1 1 udp 2130706431 192.0.2.1 50000 typ host",
                "sdpMid": "0",
                "sdpMLineIndex": 0,
            }
            await citizen.send(candidate)
            relayed = await clerk.expect("candidate")
            assert relayed["candidate"] == candidate["candidate"]
            assert relayed["sdpMid"] == "0"
            assert relayed["sdpMLineIndex"] == 0
            # The early offer never reached the clerk.
            assert [m["sdp"] for m in clerk.seen if m["type"] == "offer"] == ["v=0 offer"]

            # Only a clerk ends the call; then it ends for everyone.
            await citizen.send({"type": "end"})
            assert "clerk" in (await citizen.expect("error"))["reason"]
            await clerk.send({"type": "end"})
            await citizen.expect("ended")
            assert await citizen.closed() == (4000, "a clerk ended the call")
            assert (await clerk.closed())[0] == 4000

    after = await _timeline(world, booking_id, world.headers["citizen"])
    assert after[len(before) :] == ["call_waiting", "call_joined", "call_admitted", "call_ended"]


async def test_the_manage_link_opens_the_call_for_a_citizen_without_account(world: World) -> None:
    before = len(await _timeline(world, world.mine.booking_id, world.headers["clerk"]))
    headers = {"X-Manage-Token": world.mine.manage_token}
    async with joined(world, world.mine.booking_id, headers) as citizen:
        assert (await citizen.expect("welcome"))["role"] == "citizen"
    # As a browser sends it: a subprotocol, since it cannot set headers on a WebSocket.
    async with joined(
        world,
        world.mine.booking_id,
        {},
        subprotocols=["rathaus.call.v1", f"rathaus.manage.{world.mine.manage_token}"],
    ) as citizen:
        assert citizen.connection.subprotocol == "rathaus.call.v1"
        assert (await citizen.expect("welcome"))["state"] == "waiting"
    # Each socket waited, then left (a left is written once its socket is gone: soon after).
    deadline = time.monotonic() + GUARD_S
    while True:
        kinds = (await _timeline(world, world.mine.booking_id, world.headers["clerk"]))[before:]
        if kinds.count("call_left") >= 2 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    assert sorted(kinds) == ["call_left", "call_left", "call_waiting", "call_waiting"]


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("nobody", 401),
        ("other_citizen", 404),
        ("other_clerk", 404),
        ("other_admin", 404),
        ("partner", 404),
        ("another_manage_link", 404),
    ],
)
async def test_anyone_else_is_refused_before_the_upgrade_and_learns_nothing(
    world: World, who: str, status: int
) -> None:
    special = {
        "nobody": {},
        "another_manage_link": {"X-Manage-Token": world.others["other_citizen"].manage_token},
    }
    headers = special[who] if who in special else world.headers[who]
    code, problem = await _refusal(world, world.mine.booking_id, headers)
    assert code == status, problem
    assert problem["status"] == status
    assert "closes_at" not in problem
    # The same as for a booking that does not exist.
    if status == 404:
        unknown = await _refusal(world, "00000000-0000-4000-8000-000000000000", headers)
        assert unknown[0] == 404
        assert unknown[1]["type"] == problem["type"]


async def test_outside_the_window_the_participants_are_refused_too(world: World) -> None:
    async with httpx.AsyncClient(base_url=world.gateway, timeout=GUARD_S) as http:
        office, service = world.offices["mitte"], world.services["mitte"]
        later = await book(
            http,
            tenant=world.mine.tenant,
            office=office,
            service=service,
            start=await _first_slot(http, office, service),
            headers=world.headers["citizen"],
        )
    for headers in (world.headers["citizen"], world.headers["clerk"]):
        code, problem = await _refusal(world, later.booking_id, headers)
        assert code == 409, problem
        assert problem["type"].endswith(":call-not-open")
        assert datetime.fromisoformat(problem["opens_at"]) > datetime.now(UTC)
    # Over: its end and the grace are past.
    long_ago = datetime.now(UTC) - timedelta(hours=3)
    await move_appointment(world.system.booking_database_url, later.booking_id, long_ago)
    code, problem = await _refusal(world, later.booking_id, world.headers["citizen"])
    assert code == 409, problem
    assert datetime.fromisoformat(problem["closes_at"]) < datetime.now(UTC)


@pytest.mark.parametrize(
    ("frame", "code", "reason"),
    [
        ("not json", 4400, "not a signalling message v1"),
        (json.dumps({"v": 2, "type": "offer", "sdp": "x"}), 4400, "v"),
        (json.dumps({"v": 1, "type": "shout"}), 4400, "not a signalling message v1"),
        (json.dumps({"v": 1, "type": "end", "extra": 1}), 4400, "extra"),
        (b"\x00binary", 4400, "binary frames"),
        ("x" * 40_000, 1009, "at most 32768 bytes"),
    ],
)
async def test_a_malformed_or_oversized_message_closes_the_socket_with_a_reason(
    world: World, frame: str | bytes, code: int, reason: str
) -> None:
    async with joined(world, world.mine.booking_id, world.headers["clerk"]) as clerk:
        await clerk.expect("welcome")
        await clerk.connection.send(frame)
        closed_code, closed_reason = await clerk.closed()
    assert closed_code == code
    assert reason in closed_reason


async def test_a_flood_of_messages_closes_the_socket(world: World) -> None:
    async with joined(world, world.mine.booking_id, world.headers["clerk"]) as clerk:
        await clerk.expect("welcome")
        # The module's documents allow a burst of 40 at 5 per second.
        for _ in range(200):
            try:
                await clerk.send({"type": "candidate", "candidate": ""})
            except Exception:
                break
        assert await clerk.closed() == (4429, "too many messages")
