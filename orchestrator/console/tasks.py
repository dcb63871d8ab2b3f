"""Background loops that end when cancelled, even when a library swallowed the cancellation.

redis-py can turn a cancellation that lands during a timed read or connect into its own
TimeoutError; a loop that retries on Redis errors would then run on forever and hang shutdown.
Such loops check `cancel_requested()` (Python 3.11 `Task.cancelling`) before going round again.
"""

from __future__ import annotations

import asyncio


def cancel_requested() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
