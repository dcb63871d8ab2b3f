"""Background duties that one process of many runs (the API's console alert checks, the
dispatchers' fleet feed events): `rd:duty:{name}` names the process holding each (a random id
per process), until it expires.

The holder renews its hold on every look and releases it when it stops; a process that dies
loses it when the hold expires, and another takes the duty over at its next look. A duty's own
writes must stay safe when two processes run it for a moment around a hand-over (the alerts'
once-markers): the hold saves work, it is not a lock. It pays where a look is heavier than the
hold's one round trip.
"""

from __future__ import annotations

import asyncio
import contextlib

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError

from orchestrator import redis_keys as keys

# Keep the duty if this process holds it, else take it if nobody does.
_HOLD = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end "
    "return redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) and 1 or 0"
)
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end"


async def hold(r: Redis, duty: str, holder: str, ttl_ms: int) -> bool:
    """Whether `holder` runs `duty` now: it held it (renewed for `ttl_ms`) or nobody did."""
    return bool(await r.eval(_HOLD, 1, keys.duty(duty), holder, str(ttl_ms)))


def hold_in(pipe: Pipeline, duty: str, holder: str, ttl_ms: int) -> None:
    """`hold`, queued on a pipeline (its reply, 1 or 0, among the pipeline's): for a process
    that renews the hold with writes it makes anyway and acts on the answer next time."""
    pipe.eval(_HOLD, 1, keys.duty(duty), holder, str(ttl_ms))


async def release(r: Redis, duty: str, holder: str, timeout_s: float = 1.0) -> None:
    """`holder` stops: another process takes the duty at its next look, not `ttl_ms` later. A
    Redis that is down or hangs costs the stopping process at most `timeout_s` (then the hold
    expires by itself)."""
    with contextlib.suppress(RedisError, TimeoutError):
        await asyncio.wait_for(r.eval(_RELEASE, 1, keys.duty(duty), holder), timeout_s)
