"""The dispatcher's cook queue alone (real Redis, no robots): what stream entries it queues."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from orchestrator.config import RestaurantConfig
from orchestrator.dispatch.cooking import Flight
from orchestrator.dispatch.scheduling import POLICIES
from orchestrator.dispatch.service import Dispatcher
from tests.dispatch_support import ensure_groups, write_order


async def test_two_entries_of_one_job_in_one_batch_queue_it_once(
    aredis: Redis, demo_config: RestaurantConfig
) -> None:
    """A dispatcher that takes over a dead one's entries may read a job's reclaimed entry and
    its requeue together: queued twice, the look-ahead crashed on the duplicate (KeyError in
    every scheduling round, so nothing was started again)."""
    await ensure_groups(aredis, demo_config)
    orders = [await write_order(aredis, demo_config, 't01', [('kungpao', 2)]) for _ in range(8)]
    d = Dispatcher(aredis, demo_config, 'test')
    entries = (await d.work.new(block_ms=100)).cook
    assert len(entries) == 16
    first_id, first = entries[0]
    await d.cooking.add_entries([*entries, (first_id.replace('-0', '-9'), first)], fresh=False)
    snap = d.cooking.snapshot()
    jobs = [p.job_id for p in snap.pending]
    assert sorted(jobs) == sorted(j for _, js in orders for j in js)
    # Every wok robot free: the look-ahead plays the queue (it needs each job once).
    for robot in d.robots.values():
        robot.mode, robot.reachable = 'idle', True
    plan = POLICIES['srpt'](d.cooking.snapshot())
    assert len({a.job_id for a in plan}) == len(plan) > 0


async def test_an_entry_read_twice_at_once_is_queued_once(
    aredis: Redis, demo_config: RestaurantConfig
) -> None:
    """The take-over's reclaim and the read of new entries run side by side: while the reclaim
    looked its jobs up in Redis, the read queued the same job from its requeued entry, and the
    reclaim queued it again (CI: the new dispatcher's scheduling crashed on the duplicate in
    every round, and the orders were never served)."""
    await ensure_groups(aredis, demo_config)
    _, job_ids = await write_order(aredis, demo_config, 't01', [('kungpao', 1)])
    d = Dispatcher(aredis, demo_config, 'test')
    entries = (await d.work.new(block_ms=100)).cook
    assert [e.job_id for _, e in entries] == job_ids
    (entry_id, entry), requeued = entries[0], (entries[0][0].replace('-0', '-9'), entries[0][1])
    await asyncio.gather(
        d.cooking.add_entries([(entry_id, entry)], fresh=False),
        d.cooking.add_entries([requeued], fresh=True),
    )
    assert [p.job_id for p in d.cooking.snapshot().pending] == job_ids


async def test_a_done_dish_is_not_listed_as_cooking(
    aredis: Redis, demo_config: RestaurantConfig
) -> None:
    """Its result came, so its slot is free; until the result is written the flight stays,
    and listed as cooking too it would free the slot twice in a play of the queue."""
    await ensure_groups(aredis, demo_config)
    await write_order(aredis, demo_config, 't01', [('kungpao', 2)])
    d = Dispatcher(aredis, demo_config, 'test')
    await d.cooking.add_entries((await d.work.new(block_ms=100)).cook, fresh=True)
    cooking, done = d.cooking.queue['wok']
    for p in (cooking, done):
        d.cooking.queue['wok'].remove(p)
        d.cooking.flights[p.job_id] = Flight(p, 'wok1', 1)
    d.cooking.flights[done.job_id].done = True
    (wok1,) = [c for c in d.cooking.snapshot().cookers if c.robot_id == 'wok1']
    assert len(wok1.busy_until) == 1
