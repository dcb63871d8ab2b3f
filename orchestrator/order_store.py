"""Reading a table's orders back from Redis, and the diner's pickup confirmation."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import WatchError

from orchestrator import redis_keys as keys
from orchestrator import timeline

# A table rarely has more; older orders stay in Redis but the page does not need them.
TABLE_ORDERS_SHOWN = 50


class PickupRefused(Exception):
    pass


def order_view(h: dict[str, str]) -> dict[str, Any]:
    """An order hash as the API shows it (numbers as numbers, lines parsed)."""
    return {
        'id': h['id'],
        'table_id': h['table_id'],
        'status': h['status'],
        'lines': json.loads(h['lines']),
        'total': int(h['total']),
        'currency': h['currency'],
        'jobs_total': int(h['jobs_total']),
        'jobs_cooked': int(h.get('jobs_cooked') or 0),
        'created_at': int(h['created_at']),
        'updated_at': int(h['updated_at']),
        'robot_id': h.get('robot_id') or None,
    }


async def table_order(r: Redis, table_id: str, order_id: str) -> dict[str, str] | None:
    """The order hash, or None when there is no such order at this table."""
    h = await r.hgetall(keys.order(order_id))
    return h if h and h.get('table_id') == table_id else None


async def order_timeline(r: Redis, order_id: str) -> list[dict[str, Any]]:
    return [
        timeline.decode_event(eid, f) for eid, f in await r.xrange(keys.order_events(order_id))
    ]


async def table_orders(r: Redis, table_id: str) -> list[dict[str, Any]]:
    """The table's latest orders, newest first."""
    ids = await r.zrevrange(keys.table_orders(table_id), 0, TABLE_ORDERS_SHOWN - 1)
    async with r.pipeline(transaction=False) as pipe:
        for order_id in ids:
            pipe.hgetall(keys.order(order_id))
        hashes = await pipe.execute()
    return [order_view(h) for h in hashes if h]


async def events(
    r: Redis, order_id: str, last_id: str, block_ms: int
) -> AsyncIterator[tuple[str, dict[str, str]] | None]:
    """The order's events after `last_id`, blocking for new ones; None on each idle `block_ms`.

    Ends after an event with a final status, or at once if the order is already final and
    nothing is left to send (a client resuming after the end).
    """
    stream = keys.order_events(order_id)
    status = await r.hget(keys.order(order_id), 'status')
    if status in timeline.FINAL and not await r.xrange(stream, f'({last_id}', '+', count=1):
        return
    while True:
        reply = await r.xread({stream: last_id}, block=block_ms, count=100)
        if not reply:
            yield None
            continue
        for entry_id, fields in reply[0][1]:
            last_id = entry_id
            yield entry_id, fields
            if fields.get('status') in timeline.FINAL:
                return


async def request_pickup(r: Redis, table_id: str, order_id: str) -> None:
    """Ask the robot at the table to finish its stop: the diner has taken the food.

    Only an `arrived` order can be picked up; the status check and the writes are one WATCHed
    transaction, so a status change in between (a timeout sending the robot back) refuses it.
    """
    key = keys.order(order_id)
    async with r.pipeline(transaction=True) as pipe:
        try:
            await pipe.watch(key)
            status, robot_id, trip_id = await pipe.hmget(key, ['status', 'robot_id', 'trip_id'])
            if status != timeline.ARRIVED:
                raise PickupRefused(
                    f'order is {status}, not arrived: nothing to pick up yet'
                    if status not in timeline.FINAL
                    else f'order is already {status}'
                )
            if not robot_id:
                raise PickupRefused('no robot is carrying this order')
            pipe.multi()
            pipe.xadd(
                keys.CONTROL,
                {
                    'command': 'confirm_pickup',
                    'robot_id': robot_id,
                    'trip_id': trip_id or '',
                    'table_id': table_id,
                    'order_id': order_id,
                    'by': 'diner',
                },
            )
            timeline.add_event(
                pipe,
                order_id,
                'pickup.requested',
                {'robot_id': robot_id, 'trip_id': trip_id or '', 'by': 'diner'},
            )
            await pipe.execute()
        except WatchError as e:
            raise PickupRefused('order changed while confirming; please try again') from e
