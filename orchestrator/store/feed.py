"""`rd:feed`: every event of the restaurant, for consoles and open diner menus.

The feed is only ever read live (XREAD, no consumer group), so trimming it loses nothing
pending; consoles that fall further behind than FEED_MAXLEN reload their snapshot.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from orchestrator import redis_keys as keys
from orchestrator.store.records import Fields, from_fields, to_fields

FEED_MAXLEN = 100_000
STREAM = keys.FEED


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class FeedEvent:
    """One feed (and order timeline) entry: `data` is the event's JSON payload; `status` is
    set on order events that change the order's status."""

    order_id: str
    type: str
    at: int
    data: str = '{}'
    status: str = ''

    def payload(self) -> dict[str, Any]:
        try:
            value = json.loads(self.data or '{}')
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


def event(order_id: str, kind: str, data: dict[str, Any], at: int | None = None) -> FeedEvent:
    return FeedEvent(
        order_id=order_id,
        type=kind,
        at=at or now_ms(),
        data=json.dumps(data, ensure_ascii=False, separators=(',', ':')),
    )


def entry_fields(e: FeedEvent) -> Fields:
    """The stream entry of an event (`status` only when it changes one)."""
    out = to_fields(e)
    if not e.status:
        del out['status']
    return out


def template(kind: str) -> Fields:
    """The entry fields of an event of `kind` but its `data`, for a script (or a hot path) to
    fill in `at` and the rest."""
    out = entry_fields(FeedEvent('', kind, 0))
    del out['data']
    return out


def parse(fields: dict[str, str]) -> FeedEvent:
    return from_fields(FeedEvent, {'order_id': '', 'type': '', 'at': '0', **fields})


def add(pipe: Pipeline, e: FeedEvent) -> None:
    pipe.xadd(STREAM, entry_fields(e), maxlen=FEED_MAXLEN, approximate=True)


def add_event(pipe: Pipeline, kind: str, data: dict[str, Any], at: int | None = None) -> None:
    """Queue a feed entry that is not an order status change (alerts, audit, menu, robots)."""
    add(pipe, event(str(data.get('order_id') or ''), kind, data, at))


async def last_id(r: Redis, stream: str = STREAM) -> str:
    """The newest entry's id ('0-0' for an empty feed): replay from here misses nothing."""
    last = await r.xrevrange(stream, count=1)
    return str(last[0][0]) if last else '0-0'


async def read(
    r: Redis, after: str, block_ms: int, count: int, stream: str = STREAM
) -> list[tuple[str, dict[str, str]]]:
    """Entries after `after`, waiting up to `block_ms` for the first."""
    reply = await r.xread({stream: after}, block=block_ms, count=count)
    return list(reply[0][1]) if reply else []


async def events_of(r: Redis, kind: str, since_ms: int, page: int = 2000) -> list[FeedEvent]:
    """The feed's events of one type since `since_ms` (what is still in the capped feed), oldest
    first: reports read back what the consoles saw."""
    out, start = [], f'{since_ms}-0'
    while True:
        entries = await r.xrange(STREAM, start, '+', count=page)
        out += [e for e in (parse(f) for _, f in entries) if e.type == kind]
        if len(entries) < page:
            return out
        start = '(' + entries[-1][0]
