"""Orders written straight into Redis in the intake format (for tests of the job state alone).

End-to-end tests go through the real API instead; this exists so `orchestrator.jobs` can be
tested without the API or ROS 2.
"""

from __future__ import annotations

import json
import secrets

from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator import timeline
from orchestrator.config import RestaurantConfig


async def ensure_groups(r: Redis, cfg: RestaurantConfig) -> None:
    streams = [keys.cook_stream(s.id) for s in cfg.stations] + [keys.DELIVERIES]
    for stream in streams:
        try:
            await r.xgroup_create(stream, keys.COOK_GROUP, id='0', mkstream=True)
        except Exception as e:  # BUSYGROUP: it exists
            if 'BUSYGROUP' not in str(e):
                raise


async def write_order(
    r: Redis, cfg: RestaurantConfig, table_id: str, dishes: list[tuple[str, int]]
) -> tuple[str, list[str]]:
    """An order of `(dish_id, quantity)` lines with one cook job per unit, as intake writes
    it; returns (order_id, job_ids)."""
    order_id = 'o' + secrets.token_hex(5)
    now = timeline.now_ms()
    lines = [{'dish_id': d, 'quantity': q, 'options': []} for d, q in dishes]
    job_ids = []
    async with r.pipeline(transaction=True) as pipe:
        pipe.hset(
            keys.order(order_id),
            mapping={
                'id': order_id,
                'table_id': table_id,
                'status': timeline.RECEIVED,
                'total': 0,
                'currency': cfg.restaurant.currency,
                'lines': json.dumps(lines),
                'jobs_total': sum(q for _, q in dishes),
                'jobs_cooked': 0,
                'created_at': now,
                'updated_at': now,
            },
        )
        for line, (dish_id, qty) in enumerate(dishes):
            dish = cfg.dish_by_id[dish_id]
            for unit in range(qty):
                job_id = f'{order_id}-{line:02d}-{unit:02d}'
                job_ids.append(job_id)
                pipe.hset(
                    keys.job(job_id),
                    mapping={
                        'status': 'queued',
                        'order_id': order_id,
                        'table_id': table_id,
                        'dish_id': dish_id,
                        'station': dish.station,
                        'epoch': 0,
                        'attempts': 0,
                    },
                )
                pipe.xadd(
                    keys.cook_stream(dish.station),
                    {
                        'job_id': job_id,
                        'order_id': order_id,
                        'table_id': table_id,
                        'dish_id': dish_id,
                        'station': dish.station,
                        'options': '[]',
                        'cook_time_s': str(dish.cook_time_s),
                        'line': str(line),
                    },
                )
        timeline.add_event(
            pipe, order_id, 'order.received', {'table_id': table_id}, timeline.RECEIVED
        )
        await pipe.execute()
    return order_id, job_ids
