"""`rd:dispatch:stats`: dispatcher counters (claims, reclaims, fenced writes)."""

from __future__ import annotations

from redis.asyncio import Redis

from orchestrator import redis_keys as keys

KEY = keys.DISPATCH_STATS


async def bump(r: Redis, counter: str) -> None:
    await r.hincrby(KEY, counter, 1)


async def read(r: Redis) -> dict[str, int]:
    return {k: int(v) for k, v in (await r.hgetall(KEY)).items()}
