from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from booking.bookings.errors import SlotTaken
from booking.bookings.gate import SeatGate

OFFICE = uuid.uuid4()
NINE = datetime(2026, 12, 1, 8, tzinfo=UTC)
UNITS = [NINE, NINE + timedelta(minutes=5)]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_at_most_capacity_claimers_per_unit_the_others_wait_for_a_turn() -> None:
    gate = SeatGate(1.0)
    inside = 0
    most = 0
    seats: list[int] = []

    async def claimer() -> None:
        nonlocal inside, most
        async with gate.admit(OFFICE, UNITS, 3) as first_seat:
            seats.append(first_seat)
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.01)
            inside -= 1

    await asyncio.gather(*(claimer() for _ in range(10)))

    assert most == 3
    assert len(seats) == 10
    assert sorted(seats[:3]) == [0, 1, 2]  # the first three start on different seats


async def test_waiters_learn_that_the_claimers_filled_the_unit() -> None:
    gate = SeatGate(1.0)
    outcomes: list[str] = []

    async def claimer(fills: bool) -> None:
        try:
            async with gate.admit(OFFICE, UNITS, 1):
                await asyncio.sleep(0.01)
                if fills:
                    gate.mark_full(OFFICE, UNITS[1:])
                outcomes.append("admitted")
        except SlotTaken:
            outcomes.append("refused")

    await asyncio.gather(claimer(True), *(claimer(False) for _ in range(5)))

    assert outcomes == ["admitted"] + ["refused"] * 5


async def test_a_claimer_that_fails_lets_the_next_one_in() -> None:
    gate = SeatGate(1.0)
    admitted: list[int] = []

    async def claimer(number: int) -> None:
        async with gate.admit(OFFICE, UNITS, 1):
            admitted.append(number)
            await asyncio.sleep(0.01)

    await asyncio.gather(*(claimer(n) for n in range(3)))

    assert admitted == [0, 1, 2]


async def test_remembered_full_units_are_forgotten_after_the_memory_or_at_once() -> None:
    clock = Clock()
    gate = SeatGate(1.0, clock=clock)
    gate.mark_full(OFFICE, UNITS[:1])

    with pytest.raises(SlotTaken):
        async with gate.admit(OFFICE, UNITS, 3):
            pass
    assert not gate.known_full(OFFICE, UNITS[1:])
    assert not gate.known_full(uuid.uuid4(), UNITS)
    clock.now += 1.01
    assert not gate.known_full(OFFICE, UNITS)

    gate.mark_full(OFFICE, UNITS)
    gate.forget([(OFFICE, UNITS[0])])
    assert not gate.known_full(OFFICE, UNITS[:1])
    assert gate.known_full(OFFICE, UNITS)


async def test_without_memory_only_the_database_decides() -> None:
    gate = SeatGate(0)
    gate.mark_full(OFFICE, UNITS)

    assert not gate.known_full(OFFICE, UNITS)


async def test_a_waiter_goes_to_the_database_after_the_longest_wait() -> None:
    gate = SeatGate(1.0, wait_seconds=0.02)
    release = asyncio.Event()
    order: list[str] = []

    async def stuck() -> None:
        async with gate.admit(OFFICE, UNITS, 1):
            order.append("stuck in")
            await release.wait()

    async def patient() -> None:
        await asyncio.sleep(0)
        async with gate.admit(OFFICE, UNITS, 1):
            order.append("waited")
        release.set()

    await asyncio.gather(stuck(), patient())

    assert order == ["stuck in", "waited"]


async def test_memory_is_bounded() -> None:
    clock = Clock()
    gate = SeatGate(1.0, max_remembered=10, clock=clock)
    for minute in range(25):
        gate.mark_full(OFFICE, [NINE + timedelta(minutes=minute)])

    assert len(gate._full_until) <= 10
    assert gate.known_full(OFFICE, [NINE + timedelta(minutes=24)])
