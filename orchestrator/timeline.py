"""Status changes of orders: the order hash, its timeline stream and the restaurant feed.

Everything that moves an order on — intake, the dispatcher, the console — records it here, so
the diner's SSE stream, the order's timeline and the consoles' feed always agree. Each call is
one MULTI/EXEC: the status and its event are written together or not at all.
"""

from __future__ import annotations

import json
import time
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from orchestrator import redis_keys as keys

# Order statuses, in the order a happy order passes through them.
RECEIVED = 'received'
COOKING = 'cooking'
READY = 'ready'
DELIVERING = 'delivering'
ARRIVED = 'arrived'
SERVED = 'served'
CANCELLED = 'cancelled'
FAILED = 'failed'
FINAL = frozenset({SERVED, CANCELLED, FAILED})


def now_ms() -> int:
    return int(time.time() * 1000)


# The feed is only ever read live (XREAD, no consumer group), so trimming it loses nothing
# pending; consoles that fall further behind than this reload their snapshot.
FEED_MAXLEN = 100_000


def event_fields(
    order_id: str, kind: str, data: dict[str, Any], at: int | None = None
) -> dict[str, str]:
    return {
        'order_id': order_id,
        'type': kind,
        'at': str(at or now_ms()),
        'data': json.dumps(data, ensure_ascii=False, separators=(',', ':')),
    }


def add_feed_event(pipe: Pipeline, kind: str, data: dict[str, Any], at: int | None = None) -> None:
    """Queue a feed entry that is not an order status change (alerts, audit, menu, robots)."""
    fields = event_fields(str(data.get('order_id') or ''), kind, data, at)
    pipe.xadd(keys.FEED, fields, maxlen=FEED_MAXLEN, approximate=True)


def add_event(
    pipe: Pipeline, order_id: str, kind: str, data: dict[str, Any], status: str | None = None
) -> None:
    """Queue on `pipe` the writes of one order event (and new status, if any)."""
    fields = event_fields(order_id, kind, data)
    if status is not None:
        fields['status'] = status
        pipe.hset(keys.order(order_id), mapping={'status': status, 'updated_at': fields['at']})
    pipe.xadd(keys.order_events(order_id), fields)
    pipe.xadd(keys.FEED, fields, maxlen=FEED_MAXLEN, approximate=True)


async def record(
    r: Redis,
    order_id: str,
    kind: str,
    data: dict[str, Any] | None = None,
    status: str | None = None,
) -> None:
    """Record an order event atomically (and set the order's status when given)."""
    async with r.pipeline(transaction=True) as pipe:
        add_event(pipe, order_id, kind, data or {}, status)
        await pipe.execute()


def decode_event(entry_id: str, fields: dict[str, str]) -> dict[str, Any]:
    return {
        'id': entry_id,
        'type': fields['type'],
        'order_id': fields['order_id'],
        'at': int(fields['at']),
        'status': fields.get('status'),
        'data': json.loads(fields.get('data') or '{}'),
    }
