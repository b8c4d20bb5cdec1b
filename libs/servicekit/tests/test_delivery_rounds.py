"""The background loop both outboxes' senders run (servicekit.delivery.run_rounds)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from servicekit.delivery import run_rounds


async def test_a_failed_round_is_logged_and_the_loop_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rounds: list[int] = []
    tidied: list[int] = []
    third_round = asyncio.Event()

    async def deliver() -> None:
        rounds.append(len(rounds))
        if len(rounds) == 1:
            raise RuntimeError("relay unreachable")
        if len(rounds) == 3:
            third_round.set()

    async def tidy() -> None:
        tidied.append(len(rounds))

    with caplog.at_level(logging.ERROR, logger="servicekit.delivery"):
        loop = asyncio.create_task(run_rounds(deliver, tidy, 0, what="sending mail"))
        await asyncio.wait_for(third_round.wait(), timeout=5)
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop

    assert len(rounds) >= 3
    # the first round failed before tidying, so the second round tidied; then not for an hour
    assert tidied == [2]
    assert [r.getMessage() for r in caplog.records] == ["sending mail failed"]
