from __future__ import annotations

import asyncio

import pytest

from booking.availability.cache import AvailabilityCache, TenantSnapshot


async def test_concurrent_misses_of_one_question_compute_it_once() -> None:
    cache = AvailabilityCache(snapshot_seconds=5, answer_seconds=5)
    calls = 0

    async def compute() -> bytes:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return b"answer"

    answers = await asyncio.gather(*(cache.answer("06999001", "k", compute) for _ in range(10)))

    assert answers == [b"answer"] * 10
    assert calls == 1
    assert await cache.answer("06999001", "k", compute) == b"answer"
    assert calls == 1


async def test_forgetting_a_tenant_recomputes_only_its_answers() -> None:
    cache = AvailabilityCache(snapshot_seconds=5, answer_seconds=5)
    versions = iter(range(100))

    async def compute() -> bytes:
        return str(next(versions)).encode()

    first = await cache.answer("06999001", "k", compute)
    other = await cache.answer("06999002", "k", compute)
    cache.forget_bookings("06999001")

    assert await cache.answer("06999001", "k", compute) != first
    assert await cache.answer("06999002", "k", compute) == other


async def test_a_failed_computation_is_not_cached() -> None:
    cache = AvailabilityCache(snapshot_seconds=5, answer_seconds=5)

    async def fail() -> bytes:
        raise RuntimeError("database down")

    async def succeed() -> bytes:
        return b"ok"

    with pytest.raises(RuntimeError):
        await cache.answer("06999001", "k", fail)
    assert await cache.answer("06999001", "k", succeed) == b"ok"


async def test_snapshots_are_loaded_once_until_forgotten() -> None:
    cache = AvailabilityCache(snapshot_seconds=5, answer_seconds=0)
    loads = 0

    async def load() -> TenantSnapshot:
        nonlocal loads
        loads += 1
        return TenantSnapshot(
            services={},
            offices={},
            rules={},
            closures={},
            holidays=frozenset(),
            public_holidays=frozenset(),
        )

    await asyncio.gather(*(cache.snapshot("06999001", load) for _ in range(5)))
    assert loads == 1
    cache.forget_catalogue("06999001")
    await cache.snapshot("06999001", load)
    assert loads == 2


async def test_while_an_answer_is_recomputed_the_others_get_the_one_that_just_ran_out() -> None:
    cache = AvailabilityCache(snapshot_seconds=5, answer_seconds=0.2)
    recomputing = asyncio.Event()
    release = asyncio.Event()

    async def first() -> bytes:
        return b"old"

    async def slow() -> bytes:
        recomputing.set()
        await release.wait()
        return b"new"

    await cache.answer("06999001", "k", first)
    await asyncio.sleep(0.25)  # ran out a moment ago, well within another lifetime
    recompute = asyncio.create_task(cache.answer("06999001", "k", slow))
    await recomputing.wait()
    # Without the stale answer this would wait for the recomputation, i.e. until the timeout.
    meanwhile = await asyncio.wait_for(cache.answer("06999001", "k", slow), 1)
    release.set()

    assert meanwhile == b"old"
    assert await recompute == b"new"
    assert await cache.answer("06999001", "k", slow) == b"new"


async def test_an_answer_long_run_out_or_forgotten_is_never_served() -> None:
    cache = AvailabilityCache(snapshot_seconds=5, answer_seconds=0.01)
    release = asyncio.Event()

    async def first() -> bytes:
        return b"old"

    async def slow() -> bytes:
        await release.wait()
        return b"new"

    async def others_wait_for_the_recomputation() -> None:
        release.clear()
        recompute = asyncio.create_task(cache.answer("06999001", "k", slow))
        await asyncio.sleep(0)
        waiting = asyncio.create_task(cache.answer("06999001", "k", slow))
        await asyncio.sleep(0.01)
        assert not waiting.done()
        release.set()
        assert await waiting == b"new"
        await recompute

    await cache.answer("06999001", "k", first)
    await asyncio.sleep(0.03)  # ran out more than its lifetime ago
    await others_wait_for_the_recomputation()

    cache.forget_bookings("06999001")
    await others_wait_for_the_recomputation()
