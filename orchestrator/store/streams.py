"""Consumer-group plumbing shared by the work streams (cook jobs, deliveries, robot commands).

Not the owner of any key: each stream's own module names it and decodes its entries.
"""

from __future__ import annotations

import contextlib

import redis.exceptions
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

Entry = tuple[str, dict[str, str]]


async def ensure_group(r: Redis, stream: str, group: str) -> None:
    """Create the stream's consumer group from the start (BUSYGROUP: it exists already)."""
    with contextlib.suppress(redis.exceptions.ResponseError):
        await r.xgroup_create(stream, group, id='0', mkstream=True)


async def read_group(
    r: Redis,
    group: str,
    consumer: str,
    streams: dict[str, str],
    count: int,
    block_ms: int | None = None,
) -> list[tuple[str, list[Entry]]]:
    """XREADGROUP: `streams` maps each stream to '0' (our pending entries) or '>' (new)."""
    got = await r.xreadgroup(group, consumer, streams, count=count, block=block_ms)
    return [(str(s), list(entries)) for s, entries in got or []]


async def autoclaim(
    r: Redis, stream: str, group: str, consumer: str, min_idle_ms: int
) -> list[Entry]:
    """Every entry of the group idle for `min_idle_ms` (its consumer died), now ours."""
    out: list[Entry] = []
    start = '0-0'
    while True:
        res = await r.xautoclaim(stream, group, consumer, min_idle_ms, start, count=100)
        start, claimed = res[0], res[1]
        out += [(i, f) for i, f in claimed if f]
        if start in ('0-0', b'0-0'):
            return out


def ack(pipe: Pipeline, stream: str, group: str, *entry_ids: str) -> None:
    """Acknowledge and delete: Redis 7.0's MAXLEN would drop entries still pending, so
    finished entries are deleted one by one instead."""
    if entry_ids:
        pipe.xack(stream, group, *entry_ids)
        pipe.xdel(stream, *entry_ids)


async def ack_now(r: Redis, stream: str, group: str, *entry_ids: str) -> None:
    async with r.pipeline(transaction=True) as pipe:
        ack(pipe, stream, group, *entry_ids)
        await pipe.execute()
