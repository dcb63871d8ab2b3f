"""Retention on a real Redis: a day of orders taken by the real intake and settled through the
store (cooked, served on trips, cancelled, dead-lettered and resolved, alerts acknowledged or
resolved), then trimmed as it would be 8 days later: Redis is back to what it was before the
day, and the orders still open are untouched."""

from __future__ import annotations

import itertools
import random
import subprocess
import sys
import time
from pathlib import Path

from redis.asyncio import Redis

from orchestrator import ids
from orchestrator import redis_keys as keys
from orchestrator.config import RestaurantConfig
from orchestrator.retention import compact_ledgers, trim_redis
from orchestrator.store import alerts, deliveries, history, jobs, orders, retention, trips
from orchestrator.store.feed import now_ms
from orchestrator.store.trips import Stop
from orchestrator.texts import Said
from robot_nodes.ledger import DONE, Ledger
from tests.dispatch_support import ensure_groups, write_order

DAY_MS = retention.DAY_MS
EIGHT_DAYS_LATER = 8 * DAY_MS


async def serve_ready_orders(r: Redis) -> int:
    """What the serving side does: every ready order goes out on a trip and is served."""
    got = await r.xreadgroup(keys.DISPATCH_GROUP, 'd1', {deliveries.STREAM: '>'}, count=1000)
    entries = {f['order_id']: i for _, es in got for i, f in es}
    for order_id, entry_id in entries.items():
        trip_id = ids.new_trip_id()

        def plan(taken: list[str]) -> list[Stop]:
            return [Stop('t01', (0,), tuple(taken), ('dish',))]

        assert await trips.create(r, trip_id, 'serve1', 'd1', 10, {order_id: entry_id}, plan)
        assert await trips.record(
            r, trip_id, 1, [order_id], 'order.served', {'by': 'diner'}, orders.SERVED
        )
        assert await trips.finish(r, trip_id, 1, 'done')
    return len(entries)


async def a_day_of_service(r: Redis, cfg: RestaurantConfig, n: int, seed: int) -> list[str]:
    """`n` orders from every table, each settled one way or another; returns the ids of the
    few left open (received, cooking, dead-lettered)."""
    rng = random.Random(seed)
    dishes = [d.id for d in cfg.dishes]
    tables = itertools.cycle(t.id for t in cfg.tables)
    placed = [
        await write_order(
            r, cfg, next(tables), [(d, rng.randint(1, 2)) for d in rng.sample(dishes, 2)]
        )
        for _ in range(n)
    ]
    open_ids = []
    for k, (order_id, job_ids) in enumerate(placed):
        if k % 10 == 0:  # cancelled
            for job_id in job_ids:
                await jobs.cancel(r, job_id, 'op')
            continue
        if k % 10 == 1:  # one dish dead-lettered, then dropped or requeued and cooked
            await kill(r, job_ids[0])
            if k % 20 == 1:
                await jobs.cancel(r, job_ids[0], 'op')
            else:
                (dead_id,) = [i for i, f in await r.xrange(keys.DEAD) if f['job_id'] == job_ids[0]]
                assert await jobs.requeue_dead(r, dead_id, 'op') == job_ids[0]
        if k >= n - 3:  # still cooking, or waiting for an operator, at the end of the day
            open_ids.append(order_id)
            if k == n - 1:
                await kill(r, job_ids[-1])
            continue
        for job_id in job_ids:
            await jobs.complete(r, job_id, None, 'op')
    await serve_ready_orders(r)
    for i in range(n // 10):
        lost = Said('alert.texts.robot_lost', {'robot': f'wok{i}', 'seconds': 5})
        await alerts.raise_alert(r, 'robot_lost', 'critical', lost, robot_id='wok1')
    shown = await alerts.recent(r)
    for alert in shown[::2]:
        await alerts.acknowledge(r, alert['id'], 'op')
    await alerts.resolve(r, [a['id'] for a in shown[1::2]])
    return open_ids


async def kill(r: Redis, job_id: str) -> None:
    await r.hset(keys.job(job_id), mapping={'status': 'cooking', 'attempts': 3, 'robot': 'wok1'})
    assert await jobs.fail(r, job_id, 0, 'wok1', 'burnt', 3) == 'dead'


async def expire_short_lived(r: Redis) -> None:
    """Keys with a TTL (idempotency records, markers) have expired 8 days later."""
    async for key in r.scan_iter():
        if 0 < await r.ttl(key) <= EIGHT_DAYS_LATER // 1000:
            await r.delete(key)


async def keys_and_memory(r: Redis) -> tuple[set[str], int]:
    await expire_short_lived(r)
    names = {k async for k in r.scan_iter()}
    return names, int((await r.info('memory'))['used_memory'])


async def test_a_day_of_orders_is_trimmed_and_the_open_ones_are_kept(
    aredis: Redis, demo_config: RestaurantConfig, redis_url: str
) -> None:
    r = aredis
    # A whole day's orders placed within seconds: without the per-table limits of a real day.
    unlimited = demo_config.service.model_copy(
        update={'orders_per_minute': 0, 'dishes_per_session': 0}
    )
    cfg = demo_config.model_copy(update={'service': unlimited})
    await ensure_groups(r, cfg)
    # A first day brings every table's and stream's own keys into being, then is trimmed.
    open_before = await a_day_of_service(r, cfg, 40, seed=1)
    await trim_redis(redis_url, 7, now_ms() + EIGHT_DAYS_LATER)
    names_before, memory_before = await keys_and_memory(r)
    assert {keys.order(o) for o in open_before} <= names_before

    # The archive (orchestrator/archive) has copied everything before this day, not the day.
    await history.set_archived_up_to(r, now_ms() - 1)
    open_ids = await a_day_of_service(r, cfg, 400, seed=2)
    _, memory_day = await keys_and_memory(r)
    open_state = {o: await r.hgetall(keys.order(o)) for o in open_ids}
    assert memory_day > memory_before + 1_000_000, (memory_before, memory_day)

    # The day is a week old: trimmed. (One day later it was not: nothing is old enough.)
    nothing = await trim_redis(redis_url, 7, now_ms() + DAY_MS)
    assert (nothing.orders, nothing.jobs, nothing.dead_letters) == (0, 0, 0)
    # Nor is what the archive does not hold yet.
    held = await trim_redis(redis_url, 7, now_ms() + EIGHT_DAYS_LATER)
    assert (held.orders, held.jobs, held.trips) == (0, 0, 0), held
    await history.set_archived_up_to(r, now_ms())
    done = await trim_redis(redis_url, 7, now_ms() + EIGHT_DAYS_LATER)
    assert done.orders == 400 - 3 and done.jobs > done.orders, done
    assert set(done.kept_open) == set(open_before) | set(open_ids)
    names_after, memory_after = await keys_and_memory(r)

    # Only the open orders are left of the day: each with its timeline, jobs and table index.
    tables = {(await orders.get(r, o)).table_id for o in open_ids}  # type: ignore[union-attr]
    expected = {keys.table_orders(t) for t in tables} | {keys.ARCHIVE_UPTO}
    for order_id in open_ids:
        record = await orders.get(r, order_id)
        assert record is not None
        expected |= {keys.order(order_id), keys.order_events(order_id)}
        expected |= {keys.job(j) for j in record.job_ids()}
    assert names_after - names_before <= expected, sorted(names_after - names_before - expected)
    assert names_before <= names_after
    for order_id, state in open_state.items():
        assert await r.hgetall(keys.order(order_id)) == state
        order = await orders.get(r, order_id)
        assert order is not None and not order.final
        assert len(await jobs.get_many(r, order.job_ids())) == len(order.job_ids())
        assert await orders.timeline(r, order_id)
    # The dead dish of the open order still waits for an operator; every other went.
    assert [d['order_id'] for d in await jobs.dead_letters(r)] == [open_ids[-1], open_before[-1]]
    assert not await r.smembers(keys.ALERTS_ACKED)
    assert not await r.smembers(keys.ALERTS_RESOLVED)
    # Memory back to where it was before the day, but for the open orders and the nodes of
    # the work streams that still hold their pending entries (measured: about 0.2 MB of the
    # day's 3.3 MB).
    grown = memory_after - memory_before
    assert grown < (memory_day - memory_before) / 10, (memory_before, memory_day, memory_after)


def test_ledgers_are_compacted(tmp_path: Path) -> None:
    ledger = Ledger.for_robot(tmp_path, 'wok1')
    for i in range(50):
        ledger.accept(f'o{i}-00-00', 'cook', 1, {'dish_id': 'fries'})
        ledger.finish(f'o{i}-00-00', DONE, {'outcome': 'cooked'})
    ledger.accept('open-00-00', 'cook', 1, {'dish_id': 'fries'})
    ledger.close()
    assert compact_ledgers(tmp_path, 7, time.time() + 8 * 24 * 3600) == 50
    ledger = Ledger.for_robot(tmp_path, 'wok1')
    assert [e.job_id for e in ledger.entries()] == ['open-00-00']
    ledger.close()


def test_the_command_refuses_bad_arguments_and_names_a_redis_it_cannot_reach() -> None:
    def retention_cmd(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, '-m', 'orchestrator.cli', 'retention', *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60)

    # --days 0 or less would trim every finished record up to now (or later).
    for days in ('0', '-1'):
        res = retention_cmd('--redis-url', 'redis://127.0.0.1:1/0', '--days', days)
        assert res.returncode == 2 and '--days must be more than 0' in res.stderr, res.stderr
    # A mistyped ledger directory is not skipped in silence (cron would never compact them).
    res = retention_cmd('--redis-url', 'redis://127.0.0.1:1/0', '--ledger-dir', '/nonexistent/l')
    assert res.returncode == 2 and '--ledger-dir /nonexistent/l: no such' in res.stderr
    res = retention_cmd('--redis-url', 'redis://127.0.0.1:1/0')
    assert res.returncode == 1, res.stderr
    assert res.stderr.startswith('error: Redis at redis://127.0.0.1:1/0: '), res.stderr
    assert 'Traceback' not in res.stderr
