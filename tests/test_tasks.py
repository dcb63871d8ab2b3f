"""Background loops stop at once when cancelled, even if a library swallowed the cancellation."""

from __future__ import annotations

import asyncio
import contextlib

from orchestrator.tasks import cancel_requested, nap


async def test_a_loop_whose_cancellation_was_swallowed_does_not_sleep_it_out() -> None:
    in_round = asyncio.Event()
    rounds = 0

    async def loop() -> None:
        nonlocal rounds
        while not cancel_requested():
            rounds += 1
            with contextlib.suppress(asyncio.CancelledError):  # as redis-py may do
                in_round.set()
                await asyncio.sleep(10)
            await nap(600)

    task = asyncio.create_task(loop())
    await in_round.wait()
    task.cancel()
    # Ends within a second, not after its 600 s nap, and without starting another round.
    done, _ = await asyncio.wait({task}, timeout=1)
    assert done == {task} and task.cancelled() and rounds == 1
