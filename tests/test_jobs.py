"""Job state in a real Redis: claims, leases, epochs and fencing, completion exactly once."""

from __future__ import annotations

import asyncio
import json
import time

from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.config import RestaurantConfig
from orchestrator.store import jobs, stats
from orchestrator.store.jobs import CookEntry
from tests.dispatch_support import ensure_groups, write_order


async def _events(r: Redis, order_id: str) -> list[str]:
    return [f['type'] for _, f in await r.xrange(keys.order_events(order_id))]


async def renew(
    r: Redis, job_id: str, epoch: int, owner: str, lease_s: float, held_until_ns: int = 0
) -> int:
    """One lease renewal: FENCED, RENEWED or SETTLED_MEANWHILE."""
    (found,), replicated = await jobs.renew_leases(
        r, owner, lease_s, [jobs.Lease(job_id, epoch, held_until_ns)]
    )
    assert replicated  # nothing to wait for without replicas
    return found


async def test_claim_raises_epoch_and_is_exclusive(
    aredis: Redis, demo_config: RestaurantConfig
) -> None:
    order_id, (job_id, *_) = await write_order(aredis, demo_config, 't01', [('kungpao', 1)])
    first = await jobs.claim(aredis, job_id, 'd1', 'wok1', 5)
    assert isinstance(first, jobs.Claim) and first.epoch == 1 and first.attempts == 1
    # Held by d1 under an unexpired lease: d2 cannot take it.
    assert await jobs.claim(aredis, job_id, 'd2', 'wok2', 5) == 'dispatched'
    job = await aredis.hgetall(keys.job(job_id))
    assert job['owner'] == 'd1' and job['robot'] == 'wok1' and job['status'] == 'dispatched'
    assert (await aredis.hgetall(keys.order(order_id)))['jobs_cooking'] == '1'


async def test_many_claimers_one_winner(aredis: Redis, demo_config: RestaurantConfig) -> None:
    _order_id, (job_id, *_) = await write_order(aredis, demo_config, 't01', [('kungpao', 1)])
    results = await asyncio.gather(
        *(jobs.claim(aredis, job_id, f'd{i}', 'wok1', 5) for i in range(20))
    )
    assert sum(isinstance(c, jobs.Claim) for c in results) == 1


async def test_expired_lease_is_taken_over_and_old_epoch_fenced(
    aredis: Redis, demo_config: RestaurantConfig
) -> None:
    order_id, (job_id, *_) = await write_order(aredis, demo_config, 't01', [('kungpao', 1)])
    old = await jobs.claim(aredis, job_id, 'd1', 'wok1', 0.05)
    assert isinstance(old, jobs.Claim)
    await asyncio.sleep(0.1)
    new = await jobs.claim(aredis, job_id, 'd2', 'wok1', 5)
    assert isinstance(new, jobs.Claim) and new.epoch == old.epoch + 1
    assert new.attempts == old.attempts  # a take-over is not a failed attempt
    assert new.previous_robot == 'wok1'
    # Everything the paused d1 still says about its epoch is refused.
    assert await renew(aredis, job_id, old.epoch, 'd1', 5) == jobs.FENCED
    assert not await jobs.record_stage(aredis, job_id, old.epoch, 'cook', 0.5)
    assert await jobs.complete(aredis, job_id, old.epoch, 'wok1') == 'fenced'
    assert await jobs.fail(aredis, job_id, old.epoch, 'wok1', 'x', 3) == 'fenced'
    # Re-claiming it under its old epoch (its robot came back, say) is refused too.
    assert await jobs.claim(aredis, job_id, 'd1', 'wok1', 5, expect_epoch=old.epoch) == (
        'dispatched'
    )
    assert (await stats.read(aredis))['fenced_writes'] == 5
    assert await renew(aredis, job_id, new.epoch, 'd2', 5) == jobs.RENEWED
    assert await jobs.complete(aredis, job_id, new.epoch, 'wok1') == 'cooked'
    # Its result is in: nothing left to keep, nothing fenced.
    assert await renew(aredis, job_id, new.epoch, 'd2', 5) == jobs.SETTLED_MEANWHILE
    assert (await aredis.hgetall(keys.order(order_id)))['jobs_cooking'] == '0'
    # d1's result arriving after d2's is still a stale write, not a harmless repeat.
    assert await jobs.complete(aredis, job_id, old.epoch, 'wok1') == 'fenced'
    assert await jobs.complete(aredis, job_id, new.epoch, 'wok1') == 'duplicate'
    assert (await stats.read(aredis))['fenced_writes'] == 6
    # And d1 renewing its lease once d2 has cooked it: taken over, not settled under d1.
    assert await renew(aredis, job_id, old.epoch, 'd1', 5) == jobs.FENCED
    assert (await stats.read(aredis))['fenced_writes'] == 7


async def test_job_moves_to_another_robot_only_once_its_robot_stopped_holding_it(
    aredis: Redis, demo_config: RestaurantConfig
) -> None:
    _order_id, (job_id, *_) = await write_order(aredis, demo_config, 't01', [('kungpao', 1)])
    hold_ns = time.time_ns() + 400_000_000
    old = await jobs.claim(aredis, job_id, 'd1', 'wok1', 0.05, held_until_ns=hold_ns)
    assert isinstance(old, jobs.Claim)
    await asyncio.sleep(0.1)
    # The lease ran out, but wok1 goes on with the dish until the hold it was told ends.
    assert await jobs.claim(aredis, job_id, 'd2', 'wok2', 5) == 'dispatched'
    # A renewal by its (woken) owner tells the robot a later hold: recorded, never shortened.
    assert await renew(aredis, job_id, old.epoch, 'd1', 0.05, hold_ns + 200_000_000)
    assert await renew(aredis, job_id, old.epoch, 'd1', 0.05, 0) == jobs.RENEWED
    assert int(await aredis.hget(keys.job(job_id), 'held_until')) == (hold_ns // 10**6) + 200
    await asyncio.sleep(0.1)
    # Back to the same robot it goes at once (it answers from its ledger): no second cook.
    same = await jobs.claim(aredis, job_id, 'd2', 'wok1', 0.05)
    assert isinstance(same, jobs.Claim) and same.epoch == old.epoch + 1
    await asyncio.sleep(0.1)
    assert await jobs.claim(aredis, job_id, 'd3', 'wok2', 5) == 'dispatched'
    while time.time_ns() < hold_ns + 210_000_000:
        await asyncio.sleep(0.05)
    moved = await jobs.claim(aredis, job_id, 'd3', 'wok2', 5)
    assert isinstance(moved, jobs.Claim) and moved.previous_robot == 'wok1'


async def test_owner_reclaims_its_own_epoch(aredis: Redis, demo_config: RestaurantConfig) -> None:
    _order_id, (job_id, *_) = await write_order(aredis, demo_config, 't01', [('kungpao', 1)])
    c = await jobs.claim(aredis, job_id, 'd1', 'wok1', 5)
    assert isinstance(c, jobs.Claim)
    assert await jobs.claim(aredis, job_id, 'd2', 'wok1', 5, expect_epoch=c.epoch) == 'dispatched'
    again = await jobs.claim(aredis, job_id, 'd1', 'wok1', 5, expect_epoch=c.epoch)
    assert isinstance(again, jobs.Claim) and again.epoch == c.epoch + 1


async def test_last_dish_makes_order_ready_once(
    aredis: Redis, demo_config: RestaurantConfig
) -> None:
    await ensure_groups(aredis, demo_config)
    order_id, job_ids = await write_order(
        aredis, demo_config, 't03', [('kungpao', 2), ('iced-tea', 1)]
    )
    claims = []
    for job_id in job_ids:
        job = await jobs.get(aredis, job_id)
        station = job.station if job else ''
        ((_, [(entry_id, _)]),) = await aredis.xreadgroup(
            keys.DISPATCH_GROUP, 'd1', {keys.cook_stream(station): '>'}, count=1
        )
        c = await jobs.claim(aredis, job_id, 'd1', 'r', 5, entry_id)
        assert isinstance(c, jobs.Claim)
        assert await jobs.mark_started(aredis, job_id, c.epoch, 'r')
        claims.append(c)
    assert (await aredis.hget(keys.order(order_id), 'status')) == 'cooking'
    # All three finish at once, twice each: one cooked per job and one ready per order.
    results = await asyncio.gather(
        *(jobs.complete(aredis, c.job_id, c.epoch, 'r') for c in claims + claims)
    )
    assert sorted(results) == ['cooked'] * 3 + ['duplicate'] * 3
    order = await aredis.hgetall(keys.order(order_id))
    assert order['status'] == 'ready' and order['jobs_cooked'] == '3'
    assert await aredis.xlen(keys.DELIVERIES) == 1
    types = await _events(aredis, order_id)
    assert types.count('dish.cooked') == 3 and types.count('order.ready') == 1
    assert types[-1] == 'order.ready'
    for station in ('wok', 'drinks'):
        assert await aredis.xlen(keys.cook_stream(station)) == 0
        assert (await aredis.xpending(keys.cook_stream(station), keys.DISPATCH_GROUP))[
            'pending'
        ] == 0
    last = [
        f
        for _, f in await aredis.xrange(keys.order_events(order_id))
        if f['type'] == 'dish.cooked'
    ][-1]
    assert '"cooked":3' in last['data'] and '"total":3' in last['data']


async def test_hand_bump_from_console(aredis: Redis, demo_config: RestaurantConfig) -> None:
    order_id, (job_id,) = await write_order(aredis, demo_config, 't01', [('fries', 1)])
    assert await jobs.complete(aredis, job_id, None, 'op:kim') == 'cooked'
    assert (await aredis.hget(keys.order(order_id), 'status')) == 'ready'


async def test_failures_retry_then_dead_letter(
    aredis: Redis, demo_config: RestaurantConfig
) -> None:
    await ensure_groups(aredis, demo_config)
    _order_id, (job_id,) = await write_order(aredis, demo_config, 't01', [('fries', 1)])
    ((_, [(entry_id, _)]),) = await aredis.xreadgroup(
        keys.DISPATCH_GROUP, 'd1', {keys.cook_stream('fryer'): '>'}
    )
    for attempt, robot in enumerate(['wok2', 'grill1', 'wok2'], start=1):
        c = await jobs.claim(aredis, job_id, 'd1', robot, 5, entry_id)
        assert isinstance(c, jobs.Claim) and c.attempts == attempt
        out = await jobs.fail(aredis, job_id, c.epoch, robot, 'oil too cold', 3)
        assert out == ('dead' if attempt == 3 else 'retry')
    job = await aredis.hgetall(keys.job(job_id))
    assert json.loads(job['failed_on']) == ['grill1', 'wok2']
    ((dead_id, dead),) = await aredis.xrange(keys.DEAD)
    assert dead['job_id'] == job_id and dead['reason'] == 'oil too cold'
    ((_, alert),) = await aredis.xrange(keys.ALERTS)
    assert alert['kind'] == 'job_dead' and alert['job_id'] == job_id
    assert await jobs.requeue_dead(aredis, dead_id, 'op:kim') == job_id
    assert await aredis.xlen(keys.DEAD) == 0
    assert (await aredis.hget(keys.job(job_id), 'status')) == 'queued'
    ((_, entry),) = await aredis.xrange(keys.cook_stream('fryer'))
    requeued = jobs.parse_entry(entry)
    assert requeued is not None
    assert requeued.job_id == job_id and requeued.cook_time_s == 150.0


async def test_cancel_withdrawn_or_wasted(aredis: Redis, demo_config: RestaurantConfig) -> None:
    order_id, (a, b, c) = await write_order(
        aredis, demo_config, 't01', [('fries', 1), ('mandu', 1), ('tempura', 1)]
    )
    assert (await jobs.cancel(aredis, a, 'op')).result == 'withdrawn'
    claim = await jobs.claim(aredis, b, 'd1', 'wok2', 5)
    assert isinstance(claim, jobs.Claim)
    assert await jobs.mark_started(aredis, b, claim.epoch, 'wok2')
    assert await jobs.cancel(aredis, b, 'op') == jobs.Cancelled('wasted', 'wok2')
    ((_, control),) = await aredis.xrange(keys.CONTROL)
    assert control == {'command': 'cancel', 'robot_id': 'wok2', 'job_id': b, 'by': 'op'}
    # The robot's late answer carries the old epoch.
    assert await jobs.complete(aredis, b, claim.epoch, 'wok2') == 'wasted'
    assert await jobs.complete(aredis, c, None, 'op') == 'cooked'
    order = await aredis.hgetall(keys.order(order_id))
    assert order['status'] == 'ready' and order['jobs_total'] == '1'
    assert (await jobs.cancel(aredis, c, 'op')).result == 'cooked'


async def test_cancelling_every_dish_cancels_the_order(
    aredis: Redis, demo_config: RestaurantConfig
) -> None:
    order_id, (a,) = await write_order(aredis, demo_config, 't01', [('fries', 1)])
    await jobs.cancel(aredis, a, 'op')
    assert (await aredis.hget(keys.order(order_id), 'status')) == 'cancelled'


async def test_withdraw_is_all_or_nothing_and_only_before_a_robot_takes_a_dish(
    aredis: Redis, demo_config: RestaurantConfig
) -> None:
    order_id, (a, b) = await write_order(aredis, demo_config, 't01', [('fries', 1), ('mandu', 1)])
    assert isinstance(await jobs.claim(aredis, b, 'd1', 'wok2', 5), jobs.Claim)
    # One dish is on its robot: nothing is withdrawn, not even the queued one.
    assert await jobs.withdraw(aredis, order_id, [a, b], 'diner') == 'dispatched'
    assert await aredis.hget(keys.job(a), 'status') == 'queued'
    assert await _events(aredis, order_id) == ['order.accepted']
    assert await aredis.xlen(keys.CONTROL) == 0

    other, (c, d) = await write_order(aredis, demo_config, 't02', [('fries', 1), ('mandu', 1)])
    assert await jobs.withdraw(aredis, other, [c, d], 'diner') == 'withdrawn'
    assert [await aredis.hget(keys.job(j), 'status') for j in (c, d)] == ['withdrawn'] * 2
    order = await aredis.hgetall(keys.order(other))
    assert order['status'] == 'cancelled' and order['jobs_total'] == '0'
    assert await _events(aredis, other) == [
        'order.accepted',
        'dish.cancelled',
        'dish.cancelled',
        'order.cancelled',
    ]
    # A dispatcher that read the dish before cannot claim it now; asking again changes nothing.
    assert await jobs.claim(aredis, c, 'd1', 'fryer1', 5) == 'withdrawn'
    assert await jobs.withdraw(aredis, other, [c, d], 'diner') == ''


async def test_jobs_queued_before_the_entry_was_packed_are_read_alike(aredis: Redis) -> None:
    # A restaurant upgraded with jobs queued: their hashes and stream entries hold the cook
    # entry's fields spread out.
    entry = CookEntry('o1-00-00', 'o1', 't01', 'kungpao', 'wok', ['spice=hot'], 240.0)
    flat = jobs.entry_fields(entry)
    await aredis.hset(keys.job(entry.job_id), mapping={**flat, 'status': 'queued', 'epoch': '2'})
    job = await jobs.get(aredis, entry.job_id)
    assert job is not None and (job.entry(), job.status, job.epoch) == (entry, 'queued', 2)
    assert jobs.parse_entry(flat) == entry == jobs.parse_entry(jobs.packed(entry))
    assert jobs.parse_entry({'job_id': '', 'station': 'wok'}) is None
    # Not an entry at all: skipped, not a dispatcher's crash.
    assert jobs.parse_entry({jobs.ENTRY: '{"job_id": '}) is None
    assert jobs.parse_entry({jobs.ENTRY: '[1]'}) is None
