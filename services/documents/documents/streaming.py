"""Plumbing for the byte streams of uploads and downloads: batching and working ahead.

A stream passes several stages (receive, sniff and count, hash and encrypt, write; or read,
decrypt, send). Pulled one item at a time, each stage waits for the others. :func:`ahead` runs
a stage in a task of its own, one item ahead of its consumer, so that the stages overlap: the
next MiB is received while the last one is hashed and encrypted in a worker thread and the one
before is written; the next MiB is read while the last one is decrypted and sent. What overlaps
is what lets go of the GIL (SHA-256 and joins of a MiB, file and socket I/O), so the thread
work is cut into MiB pieces, not 64 KiB ones. Memory stays bounded by two items per stage.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterable
from typing import TypeVar

import anyio

T = TypeVar("T")


async def ahead(source: AsyncIterable[T]) -> AsyncGenerator[T, None]:
    """The items of ``source``, each produced by a task of its own while the consumer is busy
    with the one before (never further ahead, so a stage holds at most two items).

    An error of ``source`` is raised to the consumer where the item would have been. When the
    consumer stops early (an error, a cancelled request), the producer is cancelled, ``source``
    closed and both waited for, so the stage's clean-up (closing files, removing partial
    writes) has run when this generator is closed.
    """
    ready: asyncio.Queue[T | _Failed | _Done] = asyncio.Queue(1)
    taken = asyncio.Event()
    taken.set()
    items = aiter(source)

    async def produce() -> None:
        try:
            while True:
                await taken.wait()
                taken.clear()
                try:
                    item = await anext(items)
                except StopAsyncIteration:
                    ready.put_nowait(_Done())
                    return
                ready.put_nowait(item)
        except Exception as exc:  # handed to the consumer, raised there
            ready.put_nowait(_Failed(exc))
        finally:
            if isinstance(items, AsyncGenerator):
                await items.aclose()

    producer = asyncio.create_task(produce())
    try:
        while True:
            item = await ready.get()
            taken.set()
            if isinstance(item, _Done):
                break
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        producer.cancel()
        with anyio.CancelScope(shield=True), contextlib.suppress(asyncio.CancelledError):
            await producer


class _Done:
    __slots__ = ()


class _Failed:
    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


async def batched(source: AsyncIterable[bytes], size: int) -> AsyncGenerator[list[bytes], None]:
    """The bytes of ``source`` as lists of pieces that add up to at least ``size`` bytes (the
    last list may hold less). The pieces are not joined: copying them into one new buffer
    costs more than handing the list on."""
    parts: list[bytes] = []
    pending = 0
    async for chunk in source:
        if not chunk:
            continue
        parts.append(chunk)
        pending += len(chunk)
        if pending >= size:
            yield parts
            parts = []
            pending = 0
    if parts:
        yield parts


async def flattened(source: AsyncGenerator[list[bytes], None]) -> AsyncGenerator[bytes, None]:
    """The pieces of the lists of ``source``, one by one; closing this closes ``source``."""
    async with contextlib.aclosing(source):
        async for parts in source:
            for part in parts:
                yield part
