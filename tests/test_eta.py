"""When a diner hears the first estimate (dispatch/eta.py): not before every dish of the order
counts, and not never (a real redis-server holds the orders)."""

from __future__ import annotations

import asyncio
import math
import time

from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.config import RestaurantConfig
from orchestrator.dispatch.context import DispatchContext
from orchestrator.dispatch.eta import Etas
from orchestrator.store.orders import OrderRecord
from orchestrator.store.records import changes

SCALE = 200.0


async def place(r: Redis, order_id: str, jobs_total: int) -> None:
    record = changes(
        OrderRecord,
        id=order_id,
        table_id='t06',
        status='cooking',
        total=1000,
        currency='KRW',
        jobs_total=jobs_total,
        created_at=0,
        updated_at=0,
    )
    await r.hset(keys.order(order_id), mapping=record)


async def test_the_first_estimate_waits_for_every_dish_even_one_cooked_already(
    aredis: Redis, demo_config: RestaurantConfig
) -> None:
    # A drink, two woks and fries, read from three station streams one at a time; at speed the
    # drink is cooked (its completion not yet recorded) by the time the fries are read.
    await place(aredis, 'o1', 4)
    etas = Etas(DispatchContext(aredis, demo_config, 'd', SCALE, 5.0, {}))
    ready = {'o1': ('t06', time.time() * SCALE + 240)}
    await etas.publish(ready, {'o1': {'o1-drink'}})
    assert not await aredis.hget(keys.order('o1'), 'eta_at')  # the drink alone: too early
    # The dispatcher looks again at once when a dish of such an order is cooked.
    assert etas.awaits_first('o1') and not etas.awaits_first('o9')
    await etas.publish(ready, {'o1': {'o1-wok-1', 'o1-wok-2', 'o1-fries'}})
    eta_at = int(await aredis.hget(keys.order('o1'), 'eta_at') or 0)
    assert eta_at >= (ready['o1'][1] / SCALE) * 1000
    assert not etas.awaits_first('o1')
    # An order of which some dishes were never here waits (another dispatcher may hold them).
    await place(aredis, 'o2', 2)
    await etas.publish({'o2': ('t06', time.time() * SCALE)}, {'o2': {'o2-wok-1'}})
    assert not await aredis.hget(keys.order('o2'), 'eta_at')


async def test_an_order_no_robot_can_take_yet_is_looked_at_again_when_one_does(
    aredis: Redis, demo_config: RestaurantConfig
) -> None:
    # Just after a dispatcher starts, a robot not yet heard makes the schedule's play end with
    # the order uncooked (no estimate); at speed the order is cooked and gone before the next
    # round, so the dispatcher looks again as soon as one of its dishes starts.
    await place(aredis, 'o1', 1)
    etas = Etas(DispatchContext(aredis, demo_config, 'd', SCALE, 5.0, {}))
    await etas.publish({'o1': ('t06', math.inf)}, {'o1': {'o1-wok-1'}})
    assert not await aredis.hget(keys.order('o1'), 'eta_at')
    assert etas.awaits_first('o1') and not etas.awaits_first('o9')
    await etas.publish({'o1': ('t06', time.time() * SCALE + 240)}, {'o1': {'o1-wok-1'}})
    assert await aredis.hget(keys.order('o1'), 'eta_at')
    assert not etas.awaits_first('o1')


async def test_an_overdue_estimate_is_not_pushed_later_by_the_clock(
    aredis: Redis, demo_config: RestaurantConfig
) -> None:
    await place(aredis, 'o3', 1)
    etas = Etas(DispatchContext(aredis, demo_config, 'd', SCALE, 5.0, {}))
    here = {'o3': {'o3-wok-1'}}

    async def published(ready_in_s: float) -> int:
        await etas.publish({'o3': ('t06', time.time() * SCALE + ready_in_s)}, here)
        return int(await aredis.hget(keys.order('o3'), 'eta_at') or 0)

    # The food is late: the schedule says it was ready 100 s ago, so it comes as soon as a
    # robot can bring it. A moment later (50 simulated seconds) the same holds: the estimate
    # would only follow the clock, later than the one the diner has (and their page says "any
    # moment" once it passes): kept.
    first = await published(-100)
    await asyncio.sleep(50 / SCALE)
    assert await published(-100) == first
    # The schedule moves it later for real (still ahead): told.
    later = await published(600)
    assert later > first
    # Overdue again, and now earlier than what the diner was told: told.
    assert await published(-10) < later
