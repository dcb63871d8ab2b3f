"""A cancelled order never leaves on a trip (real Redis; no robots: trips are only planned)."""

from __future__ import annotations

import dataclasses

import pytest
from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.config import RestaurantConfig
from orchestrator.console import operator_actions as controls
from orchestrator.dispatch import delivery
from orchestrator.dispatch.service import Dispatcher
from orchestrator.store import jobs, trips
from orchestrator.store import orders as timeline
from tests.dispatch_support import ensure_groups, write_order


async def ready_order(r: Redis, cfg: RestaurantConfig, table_id: str) -> str:
    """An order whose only dish was bumped: `ready`, with its delivery entry."""
    order_id, (job_id,) = await write_order(r, cfg, table_id, [('kungpao', 1)])
    assert await jobs.complete(r, job_id, epoch=None, by='test') == jobs.COOKED
    assert await r.hget(keys.order(order_id), 'status') == timeline.READY
    return order_id


@pytest.fixture
async def held(aredis: Redis, demo_config: RestaurantConfig) -> tuple[str, Dispatcher]:
    """A ready order for t01 and a dispatcher (no fleet bridge) holding it long enough to send
    it, with serve1 free."""
    await ensure_groups(aredis, demo_config)
    order_id = await ready_order(aredis, demo_config, 't01')
    d = Dispatcher(aredis, demo_config, 'test')
    await d.serving.add_entries((await d.work.new(block_ms=100)).deliveries)
    d.serving.ready = {k: dataclasses.replace(o, since=0.0) for k, o in d.serving.ready.items()}
    d.robots['serve1'].mode, d.robots['serve1'].reachable = 'idle', True
    assert list(d.serving.ready) == [order_id]
    return order_id, d


async def test_a_held_order_cancelled_before_its_trip_stays(
    aredis: Redis, held: tuple[str, Dispatcher]
) -> None:
    order_id, d = held
    assert 'cancelled' in str(await controls.cancel(aredis, order_id, None, 'alice'))
    await d.serving.plan()
    # The claim saw it cancelled: no trip, and its delivery entry is settled.
    assert not d.serving.trips and not d.serving.ready
    assert await aredis.hget(keys.order(order_id), 'trip_id') is None
    pending = await aredis.xpending(keys.DELIVERIES, keys.DISPATCH_GROUP)
    assert pending['pending'] == 0 and await aredis.xlen(keys.DELIVERIES) == 0


async def test_an_order_claimed_for_a_trip_can_no_longer_be_cancelled(
    aredis: Redis, demo_config: RestaurantConfig, held: tuple[str, Dispatcher]
) -> None:
    order_id, d = held
    (waiting,) = d.serving.ready.values()
    stops = await trips.create(
        aredis,
        'trtest',
        'serve1',
        'test',
        10.0,
        {order_id: waiting.entry_id},
        lambda ids: delivery.stops(demo_config, [waiting]),
    )
    assert [s.order_ids for s in stops] == [(order_id,)]
    with pytest.raises(controls.Refused) as refused:
        await controls.cancel(aredis, order_id, None, 'alice')
    assert refused.value.status == 409 and 'being loaded with serve1' in refused.value.message
    assert await aredis.hget(keys.order(order_id), 'status') == timeline.READY


async def test_a_robot_on_an_active_trip_gets_no_second_one(
    aredis: Redis, demo_config: RestaurantConfig
) -> None:
    await ensure_groups(aredis, demo_config)
    first, second = [await ready_order(aredis, demo_config, t) for t in ('t01', 't02')]

    async def create(trip_id: str, order_id: str) -> list[trips.Stop]:
        return await trips.create(
            aredis, trip_id, 'serve1', 'test', 10.0, {order_id: '0-1'}, lambda ids: []
        )

    await create('tra', first)
    with pytest.raises(trips.RobotBusy, match='serve1 is on trip tra'):
        await create('trb', second)
    # Nothing written: the order is free for another robot.
    assert await aredis.hget(keys.order(second), 'trip_id') is None
    assert not await aredis.exists(keys.trip('trb'))
    # Its owner gone and the lease run out, the trip no longer holds the robot: it is taken
    # over with its robot or the robot is free (the dispatchers see which in its heartbeats).
    await aredis.hset(keys.trip('tra'), 'lease_until', 0)
    await create('trb', second)
    assert await aredis.hget(keys.order(second), 'trip_id') == 'trb'
    # A finished trip holds it no more either.
    third = await ready_order(aredis, demo_config, 't03')
    assert await trips.finish(aredis, 'trb', 1, 'completed')
    await create('trc', third)


async def test_a_dispatcher_leaves_a_robot_that_another_sent_on_a_trip(
    aredis: Redis, demo_config: RestaurantConfig, held: tuple[str, Dispatcher]
) -> None:
    order_id, d = held
    other = await ready_order(aredis, demo_config, 't02')
    await trips.create(aredis, 'trother', 'serve1', 'other', 10.0, {other: '0-1'}, lambda ids: [])
    await d.serving.plan()
    # Its order waits for the next free robot, still claimed by this dispatcher (not acked).
    assert not d.serving.trips and list(d.serving.ready) == [order_id]
    assert await aredis.hget(keys.order(order_id), 'trip_id') is None
    pending = await aredis.xpending(keys.DELIVERIES, keys.DISPATCH_GROUP)
    assert pending['pending'] == 1
    # serve1 is tried again once it is heard from (its heartbeat lists the other's trip then).
    assert d.serving.free_robots() == []
    d.robots['serve1'].heard(frozenset())
    assert d.serving.free_robots() == ['serve1']
