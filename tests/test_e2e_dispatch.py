"""The dispatcher end to end: the real API, `robodine dispatcher` processes, robot node
processes over DDS and a real redis-server; failures injected with real signals."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.exceptions
from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.config import RestaurantConfig
from orchestrator.console import operator_actions
from orchestrator.redis_server import RedisServer
from orchestrator.store import commands, stats
from orchestrator.store.connection import OUTAGE_LOG_EVERY_S
from orchestrator.store.feed import now_ms
from tests.dispatch_support import (
    Diners,
    Kitchen,
    module_kitchen,
    nothing_pending,
    restaurant_open,
    robots_heard,
    wait_for,
)

pytestmark = pytest.mark.ros

TIME_SCALE = 200.0
# Simulated seconds; long enough for the test's diners to confirm every pickup.
PICKUP_TIMEOUT_S = 3000.0
STATUS_ORDER = ['received', 'cooking', 'ready', 'delivering', 'arrived', 'served']


@pytest.fixture(scope='module')
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kitchen]:
    with module_kitchen(tmp_path_factory, TIME_SCALE, PICKUP_TIMEOUT_S) as kitchen:
        yield kitchen


@pytest.fixture
async def diners(
    fleet: Kitchen, redis_url: str, aredis: Redis, tmp_path: Path
) -> AsyncIterator[Diners]:
    """The API and one dispatcher up, every robot heard, diners confirming pickups."""
    # Heard, and idle: nothing left over from an earlier test.
    async with restaurant_open(fleet, redis_url, aredis, tmp_path, idle=True) as (_, d):
        yield d


async def sse_events(client: httpx.AsyncClient, token: str, order_id: str) -> list[dict[str, Any]]:
    """The diner's event stream of one order, until it ends (after a final status)."""
    events = []
    async with client.stream(
        'GET', f'/api/tables/{token}/orders/{order_id}/events', timeout=httpx.Timeout(10, read=120)
    ) as res:
        async for line in res.aiter_lines():
            if line.startswith('data: '):
                events.append(json.loads(line[6:]))
    return events


async def test_order_cooked_delivered_and_served(fleet: Kitchen, diners: Diners) -> None:
    # 4 dishes over 3 stations: a drink, two woks, fries.
    lines = [('iced-tea', 1), ('kungpao', 2), ('fries', 1)]
    order_id = await diners.order('t06', lines)
    assert order_id
    events = await asyncio.wait_for(sse_events(diners.client, diners.token('t06'), order_id), 90)
    types = [e['type'] for e in events]
    # The first estimate the diner hears counts every dish: no sooner than the longest one is
    # cooked (the drink's stream is read first; an estimate from it alone came minutes early).
    accepted = next(e for e in events if e['type'] == 'order.accepted')
    etas = [e['data']['eta_at'] for e in events if e['type'] == 'order.eta']
    assert etas, f'no estimate before the food left: {types}'
    first_eta = etas[0]
    longest_s = max(diners.cfg.dish_by_id[d].cook_time_s for d, _ in lines)
    assert first_eta >= accepted['at'] + longest_s / TIME_SCALE * 1000
    statuses = [e['status'] for e in events if e['status']]
    # Every status once, in order (consecutive repeats are fine: two dishes start cooking).
    assert list(dict.fromkeys(statuses)) == STATUS_ORDER, types
    assert types.count('dish.cooking') == 4 and types.count('dish.cooked') == 4
    cooked = [e['data'] for e in events if e['type'] == 'dish.cooked']
    assert [c['cooked'] for c in cooked] == [1, 2, 3, 4] and cooked[-1]['total'] == 4
    assert 'delivery.started' in types, types
    started = next(e['data'] for e in events if e['type'] == 'delivery.started')
    assert started['robot_id'].startswith('serve') and started['eta_s'] >= 0
    assert (
        types.index('order.ready')
        < types.index('delivery.started')
        < types.index('delivery.arrived')
        < types.index('delivery.served')
    )
    assert order_id in diners.pickups_sent
    order = await diners.r.hgetall(keys.order(order_id))
    assert order['status'] == 'served' and order['jobs_cooked'] == '4'
    assert await wait_for(lambda: _no_pending(diners), 10)


async def test_heartbeats_of_the_whole_fleet_reach_the_feed(
    fleet: Kitchen, diners: Diners
) -> None:
    """Idle robots send no state changes, so consoles learn their heartbeat ages from one
    summary event a second."""
    robots = {r.id for r in diners.cfg.cooking_robots} | {r.id for r in diners.cfg.serving_robots}

    async def fresh_summary() -> bool:
        for _, fields in await diners.r.xrevrange(keys.FEED, count=50):
            if fields['type'] == 'fleet.heartbeats':
                seen = json.loads(fields['data'])['seen']
                return set(seen) == robots and min(seen.values()) > int(fields['at']) - 2000
        return False

    assert await wait_for(fresh_summary, 10)


async def _no_pending(d: Diners) -> bool:
    return not await nothing_pending(d.r, d.cfg)


def random_orders(
    cfg: RestaurantConfig, n: int, seed: int
) -> list[tuple[str, list[tuple[str, int]]]]:
    """`n` orders of 1-3 lines (quantity 1-2) from the 16 tables, reproducibly."""
    rnd = random.Random(seed)
    dishes = [d.id for d in cfg.dishes]
    return [
        (
            cfg.tables[i % len(cfg.tables)].id,
            [(d, rnd.randint(1, 2)) for d in rnd.sample(dishes, rnd.randint(1, 3))],
        )
        for i in range(n)
    ]


async def place_all(diners: Diners, orders: list[tuple[str, list[tuple[str, int]]]]) -> list[str]:
    placed = await asyncio.gather(*(diners.order(t, items) for t, items in orders))
    assert all(placed), diners.refused
    return [o for o in placed if o]


async def assert_cooked_once(fleet: Kitchen, diners: Diners) -> None:
    """Every dish of the diners' orders was cooked exactly once, by the robots' own count."""
    cooked = fleet.cooked()
    for order_id in diners.orders:
        total = int(await diners.r.hget(keys.order(order_id), 'jobs_total'))
        mine = {j: n for j, n in cooked.items() if j.startswith(order_id + '-')}
        assert len(mine) == total, (order_id, mine)
        assert set(mine.values()) == {1}, (order_id, mine)


async def job_statuses(diners: Diners) -> dict[str, str]:
    out = {}
    for key in [k async for k in diners.r.scan_iter(match=keys.job('*'), count=1000)]:
        out[key.removeprefix(keys.job(''))] = await diners.r.hget(key, 'status')
    return out


async def count_status(diners: Diners, status: str) -> int:
    return sum(s == status for s in (await job_statuses(diners)).values())


@pytest.mark.timeout(900)
async def test_hundred_orders_from_sixteen_tables(fleet: Kitchen, diners: Diners) -> None:
    await place_all(diners, random_orders(fleet.cfg, 100, seed=1))
    # About 80 s on an idle 2-core machine; a deadline, not an expectation (CPU hogs beside).
    await diners.wait_served(300, 'all 100 orders served')
    await assert_cooked_once(fleet, diners)
    assert await wait_for(lambda: _no_pending(diners), 10), await nothing_pending(
        diners.r, diners.cfg
    )


async def test_dispatcher_killed_mid_cooking_and_restarted(fleet: Kitchen, diners: Diners) -> None:
    await place_all(diners, random_orders(fleet.cfg, 20, seed=2))
    await wait_for(lambda: count_status(diners, 'cooking'), 30, what='dishes cooking')
    ((name, proc),) = fleet.dispatchers.items()
    proc.kill()
    proc.wait()
    fleet.dispatchers.pop(name)
    # A new process (another consumer name) takes the dead one's entries once the lease ends.
    fleet.start_dispatcher(diners_redis_url(diners))
    await diners.wait_served(120)
    await assert_cooked_once(fleet, diners)
    assert await wait_for(lambda: _no_pending(diners), 10)


async def test_cooking_robot_killed_mid_cook_and_restarted(fleet: Kitchen, diners: Diners) -> None:
    # Galbi takes 420 s (4.2 s here) and only grill1 cooks it.
    order_id = await diners.order('t02', [('galbi', 1)])
    assert order_id
    job_id = f'{order_id}-00-00'

    async def cooking() -> bool:
        return await diners.r.hget(keys.job(job_id), 'stage') == 'cook'

    await wait_for(cooking, 30, what='galbi on the grill')
    fleet.kill_robot('grill1')
    fleet.start_robot('grill1')
    await diners.wait_served(60, 'the order served')
    await assert_cooked_once(fleet, diners)
    job = await diners.r.hgetall(keys.job(job_id))
    assert job['robot'] == 'grill1' and int(job['epoch']) >= 2  # re-sent after the restart


async def test_stale_dispatcher_is_fenced(fleet: Kitchen, diners: Diners) -> None:
    await place_all(diners, random_orders(fleet.cfg, 20, seed=3))
    await wait_for(lambda: count_status(diners, 'cooking'), 30, what='dishes cooking')
    ((old, proc),) = fleet.dispatchers.items()
    proc.send_signal(signal.SIGSTOP)
    try:
        fleet.start_dispatcher(diners_redis_url(diners))
        # The new one takes over the stopped one's jobs once their leases run out.
        await wait_for(lambda: _reclaimed(diners), 30, what='a take-over')
    finally:
        proc.send_signal(signal.SIGCONT)
    await diners.wait_served(120)
    await assert_cooked_once(fleet, diners)
    # Woken, the stale dispatcher may write for work it no longer holds: Redis refuses it
    # (fenced) and the writer says so. Beside a CPU hog it can also give its work up first (no
    # robot heard for that long) and write nothing to refuse, or win a re-claim and fence the
    # other one: what always holds is above (nothing cooked twice, everything served).
    if await _fenced(diners):

        async def a_writer_knows() -> bool:
            logs = ''.join(fleet.dispatcher_log(name) for name in fleet.dispatchers)
            return 'taken over' in logs or 'fenced' in logs

        await wait_for(a_writer_knows, 60, what=f'a fenced dispatcher saying so ({old} stale)')


async def _reclaimed(d: Diners) -> bool:
    return (await stats.read(d.r)).get('reclaims', 0) > 0


async def _fenced(d: Diners) -> bool:
    return (await stats.read(d.r)).get('fenced_writes', 0) > 0


async def _all_served(d: Diners) -> bool:
    with contextlib.suppress(redis.exceptions.ConnectionError):
        return await d.all_in('served')
    return False


def diners_redis_url(d: Diners) -> str:
    return d.settings.redis_url


async def test_redis_restarted_mid_run(
    fleet: Kitchen, diners: Diners, redis_server: RedisServer
) -> None:
    orders = random_orders(fleet.cfg, 40, seed=4)
    first = await place_all(diners, orders[:20])
    await wait_for(lambda: count_status(diners, 'cooking'), 30, what='dishes cooking')
    # Orders keep coming while Redis goes down and comes back (from its AOF).
    rest = asyncio.gather(*(diners.order(t, items) for t, items in orders[20:]))
    down_at = time.monotonic()
    redis_server.restart()
    outage_s = time.monotonic() - down_at
    await rest
    assert set(first) <= set(diners.orders)
    await wait_for(lambda: _all_served(diners), 180, 0.2, 'every accepted order served')
    await assert_cooked_once(fleet, diners)
    # The operator hears of the outage once Redis is back; no write of the dispatcher's was
    # dropped on the way (a dropped background write logs "task ... failed").
    outages = [f for _, f in await diners.r.xrange(keys.ALERTS) if f['kind'] == 'redis_outage']
    assert len(outages) == 1 and 'did not answer' in outages[0]['message'], outages
    (name,) = fleet.dispatchers
    log = fleet.dispatcher_log(name).splitlines()
    assert 'failed' not in ''.join(line for line in log if 'task ' in line)
    # Each retrier (the writes, each loop) says so once a while, not at every retry: a line
    # per OUTAGE_LOG_EVERY_S, one more for connections the restart closed under it.
    retriers = Counter(
        line.split(' WARNING ', 1)[-1].split('redis unavailable')[0]
        for line in log
        if 'redis unavailable' in line
    )
    assert retriers, log
    assert max(retriers.values()) <= 2 + outage_s // OUTAGE_LOG_EVERY_S, retriers


async def test_control_stream_reaches_the_robot(fleet: Kitchen, diners: Diners) -> None:
    r = diners.r

    async def control(command: str, robot_id: str) -> None:
        await r.xadd(keys.CONTROL, {'command': command, 'robot_id': robot_id, 'by': 'op:kim'})

    async def mode_is(robot_id: str, mode: str) -> bool:
        return await r.hget(keys.robot(robot_id), 'mode') == mode

    await control('pause', 'wok1')
    await wait_for(lambda: mode_is('wok1', 'paused'), 20, what='wok1 paused')
    # Refused by the robot (a cooking robot has no dock): audited with its reason, and alerted.
    await control('dock', 'wok1')

    async def refused() -> bool:
        alerts = [f for _, f in await r.xrange(keys.ALERTS)]
        return any(a['kind'] == 'control_refused' and a['robot_id'] == 'wok1' for a in alerts)

    await wait_for(refused, 20, what='the refusal alert')
    await control('resume', 'wok1')
    await wait_for(lambda: mode_is('wok1', 'idle'), 20, what='wok1 idle again')
    audit = [f for _, f in await r.xrange(keys.AUDIT)]
    assert [(a['action'], a['result']) for a in audit] == [
        ('robot.pause', 'ok'),
        ('robot.dock', 'a cooking robot has no dock'),
        ('robot.resume', 'ok'),
    ]
    assert all(a['who'] == 'op:kim' and a['target'] == 'wok1' for a in audit)
    assert not await nothing_pending(r, diners.cfg)


async def test_expired_commands_are_not_run_and_stop_all_is_acknowledged(
    fleet: Kitchen, diners: Diners, monkeypatch: pytest.MonkeyPatch
) -> None:
    r, cfg = diners.r, diners.cfg
    robot_ids = [c.id for c in cfg.cooking_robots] + [s.id for s in cfg.serving_robots]
    ttl_s = 2.0
    monkeypatch.setenv('ROBODINE_COMMAND_TTL_S', str(ttl_s))
    # No dispatcher runs while STOP ALL is queued, and none comes before it expired.
    fleet.stop_dispatchers()
    said = str(await operator_actions.stop_all(r, cfg, 'op:kim', ttl_s))
    assert said.startswith(f'emergency stop queued for {len(robot_ids)} robots')
    ((first, _), *_) = await r.xrange(keys.CONTROL)
    await wait_for(lambda: _older_than(r, first, ttl_s), 10, what='the commands expired')
    started = now_ms()
    fleet.start_dispatcher(diners_redis_url(diners))

    async def answers(result: str) -> set[str]:
        audit = [f for _, f in await r.xrange(keys.AUDIT)]
        return {
            a['target'] for a in audit if a['action'] == 'robot.estop' and a['result'] == result
        }

    async def expired_alerts() -> list[dict[str, str]]:
        return [f for _, f in await r.xrange(keys.ALERTS) if f['kind'] == 'command_expired']

    async def alerted() -> set[str]:
        return {a['robot_id'] for a in await expired_alerts()}

    await wait_for(lambda: _have(answers('expired'), robot_ids), 30, what='expired, audited')
    # Each robot's alert follows its audit entry.
    await wait_for(lambda: _have(alerted(), robot_ids), 30, what='an alert for each')
    alerts = await expired_alerts()
    assert {a['robot_id'] for a in alerts} == set(robot_ids)
    assert {a['severity'] for a in alerts} == {'critical'}
    assert await robots_heard(r, cfg, idle=True)  # none was stopped
    # Each entry is acknowledged after its alert (beside a CPU hog, seconds after the last).
    await wait_for(lambda: _no_pending(diners), 30, what='the expired commands acknowledged')

    # A fresh STOP ALL, once the new dispatcher hears the robots, is run: each robot
    # acknowledges it in the audit log.
    await wait_for(lambda: _heard_since(r, robot_ids, started), 30, what='robots heard')
    await operator_actions.stop_all(r, cfg, 'op:kim', ttl_s)
    await wait_for(lambda: _have(answers('ok'), robot_ids), 30, what='every robot e-stopped')
    await wait_for(lambda: _all_modes(r, robot_ids, {'estopped'}), 30, what='modes mirrored')
    assert await operator_actions.resume_all(r, cfg, 'op:kim')
    await wait_for(lambda: _all_modes(r, robot_ids, {'idle'}), 30, what='released, idle again')


async def _older_than(r: Redis, entry_id: str, seconds: float) -> bool:
    return await commands.age_ms(r, entry_id) > seconds * 1000


async def _heard_since(r: Redis, robot_ids: list[str], since_ms: int) -> bool:
    seen = await asyncio.gather(*(r.hget(keys.robot(i), 'seen_at') for i in robot_ids))
    return all(int(s or 0) > since_ms for s in seen)


async def _have(got: Awaitable[set[str]], wanted: list[str]) -> bool:
    return set(wanted) <= await got


async def _all_modes(r: Redis, robot_ids: list[str], modes: set[str]) -> bool:
    return all(
        m in modes
        for m in await asyncio.gather(*(r.hget(keys.robot(i), 'mode') for i in robot_ids))
    )


async def test_lost_robot_jobs_go_elsewhere(fleet: Kitchen, diners: Diners) -> None:
    # Jeyuk is cooked on the wok (wok1 or wok2); the robot that has it goes silent.
    order_id = await diners.order('t09', [('jeyuk', 1)])
    assert order_id
    job_id = f'{order_id}-00-00'

    async def on(robot_id: str) -> bool:
        job = await diners.r.hgetall(keys.job(job_id))
        return job.get('robot') == robot_id and job.get('status') == 'cooking'

    robot_id = await wait_for(lambda: _cooking_anywhere(diners, job_id), 20, what='cooking')
    other = 'wok2' if robot_id == 'wok1' else 'wok1'
    proc = fleet.robots[robot_id]
    proc.send_signal(signal.SIGSTOP)
    try:
        await wait_for(lambda: _alerted(diners, 'robot_lost', robot_id), 30, what='lost alert')
        # Past the lease, the job is claimed again (new epoch) for the other robot.
        await wait_for(lambda: on(other), 30, what=f'the dish on {other}')
        await diners.wait_served(60, 'the order served')
    finally:
        proc.send_signal(signal.SIGCONT)
    job = await diners.r.hgetall(keys.job(job_id))
    assert job['cooked_by'] == other and int(job['epoch']) >= 2
    assert await diners.r.hget(keys.robot(robot_id), 'mode') in ('lost', 'busy', 'idle')


async def _cooking_anywhere(d: Diners, job_id: str) -> str:
    """The robot cooking the job, '' while nobody is."""
    job = await d.r.hgetall(keys.job(job_id))
    return str(job.get('robot', '')) if job.get('status') == 'cooking' else ''


async def _alerted(d: Diners, kind: str, robot_id: str) -> bool:
    alerts = [f for _, f in await d.r.xrange(keys.ALERTS)]
    return any(a['kind'] == kind and a.get('robot_id') == robot_id for a in alerts)
