"""Alerts for the console: the open ones, acknowledging, and the late-order checker.

Lost robots, dead-lettered dishes and pickups that timed out are raised where they happen (the
dispatcher); the console raises `order_late` itself, once per order, when a ticket passes
`age_late_s`, and `robot_fault`, once per fault, when a robot's mirrored mode is `fault`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from functools import partial
from typing import Any

import redis.exceptions
from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.config import RestaurantConfig
from orchestrator.console import tickets
from orchestrator.console.fleet import robot_kinds
from orchestrator.dispatch.alerts import raise_alert
from orchestrator.tasks import cancel_requested
from orchestrator.timeline import FINAL, add_feed_event, now_ms

log = logging.getLogger(__name__)
SHOWN = 200
# Real seconds between two checks; ticket ages are minutes, faults want attention now.
LATE_CHECK_S = 15.0
FAULT_CHECK_S = 2.0


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
        add_feed_event(pipe, 'alert.acked', {'alert_id': alert_id, 'by': by})
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
            keys.alert_raised('order_late', t['id']), '1', nx=True, ex=tickets.WINDOW_MS // 1000
        ):
            await raise_alert(
                r,
                'order_late',
                'warning',
                f'{t["table"]} order {t["id"]} is {age_ms // 60000} min old '
                f'and still {t["status"]}',
                order_id=t['id'],
                table_id=t['table_id'],
            )
            raised += 1
    return raised


async def raise_robot_faults(r: Redis, cfg: RestaurantConfig) -> int:
    """Raise `robot_fault` when a robot reports fault, once per fault; returns how many."""
    robot_ids = list(robot_kinds(cfg))
    async with r.pipeline(transaction=False) as pipe:
        for rid in robot_ids:
            pipe.hmget(keys.robot(rid), ['mode', 'detail'])
        states = await pipe.execute()
    raised = 0
    for rid, (mode, detail) in zip(robot_ids, states, strict=True):
        marker = keys.alert_raised('robot_fault', rid)
        if mode != 'fault':
            await r.delete(marker)
        elif await r.set(marker, '1', nx=True):
            await raise_alert(
                r,
                'robot_fault',
                'critical',
                f'{rid} reports a fault: {detail or "no detail"}',
                robot_id=rid,
            )
            raised += 1
    return raised


async def periodic(check: Callable[[], Awaitable[int]], every_s: float) -> None:
    """Run a check for the life of the process, surviving Redis outages; the SET NX markers
    keep several processes from raising the same alert twice."""
    while not cancel_requested():
        try:
            await check()
        except redis.exceptions.ConnectionError:
            pass
        except (redis.exceptions.RedisError, ValueError) as e:
            log.warning('alert check %s failed: %s', getattr(check, '__name__', check), e)
        if cancel_requested():
            return
        await asyncio.sleep(every_s)


def checkers(r: Redis, cfg: RestaurantConfig) -> list[Coroutine[None, None, None]]:
    """The console's own alert checks, to run as background tasks."""
    return [
        periodic(partial(raise_late_orders, r, cfg), LATE_CHECK_S),
        periodic(partial(raise_robot_faults, r, cfg), FAULT_CHECK_S),
    ]
