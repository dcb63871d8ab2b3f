"""The console's own alert checks, run in the background of every API process.

Lost robots, dead-lettered dishes and pickups that timed out are raised where they happen (the
dispatcher); the console raises `order_late` itself, once per order, when a ticket passes
`age_late_s` of simulated time (real age × time scale, like everything in `service`), and
`robot_fault`, once per fault, when a robot's mirrored mode is `fault`. The once-markers
(`store.alerts.raise_once`) keep several processes from raising one alert twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from functools import partial

import redis.exceptions
from redis.asyncio import Redis

from orchestrator.config import RestaurantConfig
from orchestrator.console import tickets
from orchestrator.console.fleet_board import robot_kinds
from orchestrator.store import alerts, robots
from orchestrator.store.feed import now_ms
from orchestrator.store.orders import FINAL
from orchestrator.tasks import cancel_requested

log = logging.getLogger(__name__)
# Simulated seconds between two late checks (ticket ages are minutes), real seconds between
# two fault checks (faults want attention now); a check runs at most once a real second.
LATE_CHECK_S = 15.0
FAULT_CHECK_S = 2.0
MIN_CHECK_S = 1.0


async def raise_late_orders(r: Redis, cfg: RestaurantConfig, time_scale: float = 1.0) -> int:
    """Raise `order.late` for every open order older than age_late_s (simulated: the real age
    times `time_scale`), once; returns how many."""
    late_ms = cfg.service.age_late_s * 1000
    now = now_ms()
    raised = 0
    for t in await tickets.load_tickets(r, cfg, await tickets.todays_order_ids(r, cfg)):
        age_ms = int((now - t['created_at']) * time_scale)
        if t['status'] in FINAL or age_ms < late_ms:
            continue
        raised += await alerts.raise_once(
            r,
            'order_late',
            t['id'],
            'warning',
            f'{t["table"]} order {t["id"]} is {age_ms // 60000} min old and still {t["status"]}',
            ttl_s=tickets.WINDOW_MS // 1000,
            order_id=t['id'],
            table_id=t['table_id'],
        )
    return raised


async def raise_robot_faults(r: Redis, cfg: RestaurantConfig) -> int:
    """Raise `robot_fault` when a robot reports fault, once per fault; returns how many."""
    raised = 0
    for rid, state in (await robots.get_many(r, robot_kinds(cfg))).items():
        if state is None or state.mode != 'fault':
            await alerts.clear_once(r, 'robot_fault', rid)
            continue
        raised += await alerts.raise_once(
            r,
            'robot_fault',
            rid,
            'critical',
            f'{rid} reports a fault: {state.detail or "no detail"}',
            robot_id=rid,
        )
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


def checkers(
    r: Redis, cfg: RestaurantConfig, time_scale: float
) -> list[Coroutine[None, None, None]]:
    """The console's own alert checks, to run as background tasks."""
    return [
        periodic(
            partial(raise_late_orders, r, cfg, time_scale),
            max(MIN_CHECK_S, LATE_CHECK_S / time_scale),
        ),
        periodic(partial(raise_robot_faults, r, cfg), FAULT_CHECK_S),
    ]
