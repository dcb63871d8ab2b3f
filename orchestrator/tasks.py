"""Background loops that end when cancelled, even when a library swallowed the cancellation.

redis-py (8.x) can swallow a cancellation that lands during a command: the call returns as if
nothing happened, and a loop around it would run on forever and hang shutdown. Such loops check
`cancel_requested()` (Python 3.11 `Task.cancelling`) before going round again.
"""

from __future__ import annotations

import asyncio


def cancel_requested() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
