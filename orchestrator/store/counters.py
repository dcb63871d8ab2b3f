"""Fixed-window counters for rate limits: a key counts events from its first one and is
forgotten `window` later (the console's sign-in attempts, a table's party sizes)."""

from __future__ import annotations

from redis.asyncio import Redis


async def count(r: Redis, counters: list[str], window_ms: int) -> list[tuple[int, int]]:
    """Count one more event against each key of `counters`, in one transaction: (events in
    its window, milliseconds until the window ends) per key. The first event starts the
    window; later ones do not move its end."""
    async with r.pipeline(transaction=True) as pipe:
        for key in counters:
            pipe.incr(key)
            pipe.pexpire(key, window_ms, nx=True)
            pipe.pttl(key)
        got = await pipe.execute()
    return [(int(got[i]), int(got[i + 2])) for i in range(0, len(got), 3)]
