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
    assert 'cancelled' in await controls.cancel(aredis, order_id, None, 'alice')
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
