"""Waiting for Redis replicas (WAIT) before a write is acted on, so a failover cannot roll it
back: an order's 201 (`store/intake.py`), a cook job's claim before its goal goes out and a
lease before the robot is told it (`store/jobs.py`).

WAIT confirms the writes made before it on the same connection, so it ends the pipeline of
the writes it confirms.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from orchestrator.settings import Settings

log = logging.getLogger(__name__)

# Seconds between asking again (with a write and a WAIT) whether a replica has a write.
RETRY_S = 0.2


@dataclass(frozen=True)
class Replicas:
    """WAIT for `count` replicas, at most `timeout_ms`."""

    count: int
    timeout_ms: int


def from_settings(settings: Settings) -> Replicas | None:
    """What writes wait for (none without `redis_min_replicas`)."""
    if not settings.redis_min_replicas:
        return None
    return Replicas(settings.redis_min_replicas, settings.redis_replica_timeout_ms)


async def written(
    r: Redis,
    replicas: Replicas | None,
    write: Callable[[Pipeline], Any],
    raise_on_error: bool = True,
) -> tuple[list[Any], bool]:
    """Send the commands `write` queues in one pipeline, then WAIT for `replicas`; their
    results (with `raise_on_error` False, a command's error is its result), and whether enough
    replicas confirmed them (always, without `replicas`). A failed WAIT raises."""
    async with r.pipeline(transaction=False) as pipe:
        write(pipe)
        if replicas:
            pipe.wait(replicas.count, replicas.timeout_ms)
        results: list[Any] = await pipe.execute(raise_on_error=raise_on_error)
    if not replicas:
        return results, True
    acked = results.pop()
    if isinstance(acked, Exception):
        raise acked
    return results, int(acked) >= replicas.count


async def confirmed(renew: Callable[[], Awaitable[tuple[bool, bool]]], what: str) -> bool:
    """Repeat `renew`, a write that keeps something ours and says (still ours, replicated),
    every RETRY_S until replicas confirm it, which covers every write before it; False once it
    is no longer ours."""
    warned = False
    while True:
        ours, replicated = await renew()
        if not ours or replicated:
            return ours
        if not warned:
            log.warning('%s: no replica confirmed it yet; waiting', what)
            warned = True
        await asyncio.sleep(RETRY_S)
