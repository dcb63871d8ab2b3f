"""Background loops that end when cancelled, even when a library swallowed the cancellation.

redis-py (8.x) can swallow a cancellation that lands during a command: the call returns as if
nothing happened, and a loop around it would run on forever and hang shutdown. Such loops check
`cancel_requested()` (Python 3.11 `Task.cancelling`) before going round again, and sleep with
`nap()`, which does not sleep out its time once a cancellation was swallowed.
"""

from __future__ import annotations

import asyncio


def cancel_requested() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def nap(seconds: float) -> None:
    """A loop's sleep between rounds: a cancellation swallowed during the round is raised here
    at once, rather than after sleeping (an archive pass every 30 s held shutdown that long)."""
    if cancel_requested():
        raise asyncio.CancelledError
    await asyncio.sleep(seconds)
