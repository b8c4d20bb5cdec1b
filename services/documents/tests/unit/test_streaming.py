"""The stream plumbing of uploads and downloads: working ahead, batching, large pieces,
writing many pieces at once."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path

import pytest

from documents.crypto.stream import ChunkDecryptor, ChunkEncryptor, IntegrityError
from documents.storage.local import LocalBlobStore
from documents.streaming import ahead, batched, flattened

CHUNK = 4096


async def numbers(count: int, log: list[str]) -> AsyncIterator[int]:
    try:
        for number in range(count):
            log.append(f"made {number}")
            yield number
    finally:
        log.append("closed")


async def test_ahead_hands_on_every_item_in_order() -> None:
    log: list[str] = []

    received = [item async for item in ahead(numbers(5, log))]

    assert received == [0, 1, 2, 3, 4]
    assert log[-1] == "closed"


async def test_ahead_makes_the_next_item_while_the_consumer_is_busy() -> None:
    log: list[str] = []
    stream = ahead(numbers(5, log))

    first = await anext(stream)
    await asyncio.sleep(0.01)  # the consumer is busy with the first item

    assert first == 0
    assert "made 1" in log
    assert "made 4" not in log  # but only a bounded number of items ahead
    await stream.aclose()


async def test_ahead_raises_the_sources_error_where_its_item_would_be() -> None:
    async def failing() -> AsyncIterator[int]:
        yield 1
        raise IntegrityError("chunk 1 failed authentication")

    stream = ahead(failing())

    assert await anext(stream) == 1
    with pytest.raises(IntegrityError, match="chunk 1"):
        await anext(stream)


async def test_a_consumer_that_stops_early_stops_the_source_and_waits_for_its_clean_up() -> None:
    log: list[str] = []
    stream = ahead(numbers(1000, log))

    await anext(stream)
    await stream.aclose()

    assert log[-1] == "closed"
    assert len([entry for entry in log if entry.startswith("made")]) < 10


async def test_a_cancelled_consumer_cancels_the_source() -> None:
    closed = asyncio.Event()

    async def slow() -> AsyncIterator[int]:
        try:
            yield 1
            await asyncio.sleep(3600)
            yield 2
        finally:
            closed.set()

    async def consume() -> list[int]:
        return [item async for item in ahead(slow())]

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.01)
    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await task
    assert closed.is_set()


async def pieces(*sizes: int) -> AsyncIterator[bytes]:
    for size in sizes:
        yield b"x" * size


async def test_batched_gathers_pieces_up_to_the_size_without_losing_any() -> None:
    batches = [batch async for batch in batched(pieces(3, 0, 4, 2, 9, 1), 6)]

    assert [[len(piece) for piece in batch] for batch in batches] == [[3, 4], [2, 9], [1]]


async def test_flattened_gives_back_the_pieces_in_order() -> None:
    async def lists() -> AsyncGenerator[list[bytes], None]:
        yield [b"a", b"b"]
        yield []
        yield [b"c"]

    assert [piece async for piece in flattened(lists())] == [b"a", b"b", b"c"]


@pytest.mark.parametrize("size", [CHUNK, 3 * CHUNK + 5, 40 * CHUNK, 40 * CHUNK + 1])
def test_large_pieces_round_trip_in_one_call_each(size: int) -> None:
    key = os.urandom(32)
    data = os.urandom(size)
    encryptor = ChunkEncryptor(key, chunk_size=CHUNK)

    sealed = b"".join(encryptor.update_parts(data)) + encryptor.finish()
    decryptor = ChunkDecryptor(key)
    opened = decryptor.update(sealed) + decryptor.finish()

    assert opened == data


async def test_the_local_store_writes_many_small_pieces_whole(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    pieces = [os.urandom(size) for size in range(3000)]  # more pieces than one writev takes

    async def chunks() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield piece

    written = await store.write("b" * 24, chunks())
    stored = b"".join([part async for part in store.read("b" * 24)])

    assert stored == b"".join(pieces)
    assert written == len(stored)
