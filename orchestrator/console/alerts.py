"""Alerts for the console: the open ones, acknowledging, and the late-order checker.

Robot, job and pickup alerts are raised where they happen (dispatcher, fleet bridge); the
console raises `order.late` itself, once per order, when a ticket passes `age_late_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import redis.exceptions
from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.config import RestaurantConfig
from orchestrator.console import tickets
from orchestrator.console.audit import feed_fields
from orchestrator.dispatch.alerts import raise_alert
from orchestrator.timeline import FINAL, now_ms

log = logging.getLogger(__name__)
SHOWN = 200


async def recent(r: Redis, count: int = SHOWN) -> list[dict[str, Any]]:
    """The newest alerts, each marked acked or not."""
    entries = await r.xrevrange(keys.ALERTS, count=count)
    if not entries:
        return []
    acked = await r.smismember(keys.ALERTS_ACKED, [i for i, _ in entries])
    return [{'id': i, **f, 'acked': bool(a)} for (i, f), a in zip(entries, acked, strict=True)]


async def acknowledge(r: Redis, alert_id: str, by: str) -> bool:
    """Mark an alert handled; False if it does not exist. Consoles hear it on the feed."""
    if not await r.xrange(keys.ALERTS, alert_id, alert_id):
        return False
    async with r.pipeline(transaction=True) as pipe:
        pipe.sadd(keys.ALERTS_ACKED, alert_id)
        pipe.xadd(
            keys.FEED,
            feed_fields('alert.acked', {'alert_id': alert_id, 'by': by}),
            maxlen=100_000,
            approximate=True,
        )
        await pipe.execute()
    return True


async def raise_late_orders(r: Redis, cfg: RestaurantConfig) -> int:
    """Raise `order.late` for every open order older than age_late_s, once; returns how many."""
    late_ms = cfg.service.age_late_s * 1000
    now = now_ms()
    raised = 0
    for t in await tickets.load_tickets(r, cfg, await tickets.todays_order_ids(r, cfg)):
        age_ms = now - t['created_at']
        if t['status'] in FINAL or age_ms < late_ms:
            continue
        if await r.set(
            keys.alert_raised('order.late', t['id']), '1', nx=True, ex=tickets.WINDOW_MS // 1000
        ):
            await raise_alert(
                r,
                'order.late',
                'warning',
                f'{t["table"]} order {t["id"]} is {age_ms // 60000} min old '
                f'and still {t["status"]}',
                order_id=t['id'],
                table_id=t['table_id'],
            )
            raised += 1
    return raised


async def late_checker(r: Redis, cfg: RestaurantConfig, every_s: float = 15.0) -> None:
    """Runs for the life of the process; the SET NX marker keeps several processes from
    raising the same alert twice."""
    while True:
        with contextlib.suppress(redis.exceptions.ConnectionError):
            try:
                await raise_late_orders(r, cfg)
            except (redis.exceptions.ResponseError, ValueError, json.JSONDecodeError) as e:
                log.warning('late-order check failed: %s', e)
        await asyncio.sleep(every_s)
