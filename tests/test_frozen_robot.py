"""A cooking robot frozen mid-cook (SIGSTOP) while its dishes move on to another robot, then
woken (SIGCONT): it must learn that its jobs moved on before it cooks further, and what it had
physically started is recorded as waste with an alert. Real processes throughout: the API, a
`robodine dispatcher`, every robot node over DDS, redis-server."""

from __future__ import annotations

import json
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.config import RestaurantConfig
from robot_nodes import ledger as lg
from tests.dispatch_support import Diners, Kitchen, kitchen_running, restaurant_open, wait_for

pytestmark = pytest.mark.ros

# Jeyuk takes 240 simulated s: 12 s here, its prep 2.4 s.
TIME_SCALE = 20.0


@pytest.fixture
def fleet(tmp_path: Path, demo_config: RestaurantConfig) -> Iterator[Kitchen]:
    with kitchen_running(demo_config, tmp_path / 'kitchen', TIME_SCALE, 30000.0) as kitchen:
        yield kitchen


@pytest.fixture
async def diners(
    fleet: Kitchen, redis_url: str, aredis: Redis, tmp_path: Path
) -> AsyncIterator[Diners]:
    async with restaurant_open(fleet, redis_url, aredis, tmp_path, idle=True) as (_, d):
        yield d


async def test_frozen_cooking_robot_learns_its_dishes_moved_on(
    fleet: Kitchen, diners: Diners
) -> None:
    r = diners.r
    order_id = await diners.order('t05', [('jeyuk', 2)])
    assert order_id
    job_ids = [f'{order_id}-00-00', f'{order_id}-00-01']

    async def in_prep() -> str:
        for job_id in job_ids:
            job = await r.hgetall(keys.job(job_id))
            if job.get('stage') == 'prep':
                return str(job['robot'])
        return ''

    frozen = await wait_for(in_prep, 30, 0.02, 'a dish in prep')
    other = 'wok2' if frozen == 'wok1' else 'wok1'
    proc = fleet.robots[frozen]
    proc.send_signal(signal.SIGSTOP)
    try:
        # Lost, its leases run out, and the other wok takes its dishes and cooks them.
        async def moved_and_cooked() -> bool:
            jobs = [await r.hgetall(keys.job(j)) for j in job_ids]
            return all(j['status'] == 'cooked' and j['cooked_by'] == other for j in jobs if j)

        # Its copies are what its ledger holds: under load a dish claimed for it may still have
        # been on its way when it froze (never accepted, so nothing of it to settle).
        held = fleet.entries(frozen)
        mine = [j for j in job_ids if j in held]
        await wait_for(moved_and_cooked, 90, 0.1, f'the dishes of {frozen} cooked on {other}')
    finally:
        proc.send_signal(signal.SIGCONT)
    # Woken, it is told its copies moved on: none finishes; the started ones are waste.
    await wait_for(
        lambda: _all_final(fleet, frozen, mine), 30, 0.1, f'{frozen} settling its copies'
    )
    await wait_for(lambda: diners.all_in('served'), 60, 0.2, 'the order served')
    cooked = fleet.cooked()
    assert [cooked[j] for j in job_ids] == [1, 1], cooked
    entries = fleet.entries(frozen)
    started = [j for j in mine if entries[j].starts]
    assert started and all(entries[j].status == lg.WASTED for j in started)

    # The robot writes its ledger before it answers the cancel, the dispatcher records the waste
    # after the answer (a moment later on a loaded machine).
    async def recorded() -> bool:
        return all([await r.hget(keys.job(j), 'wasted_by') for j in started])

    await wait_for(recorded, 30, 0.1, 'the waste recorded on the jobs')
    for job_id in started:
        assert json.loads(await r.hget(keys.job(job_id), 'wasted_by')) == [frozen]
    alerts = [f for _, f in await r.xrange(keys.ALERTS)]
    twice = {a['job_id'] for a in alerts if a['kind'] == 'dish_cooked_twice'}
    assert twice == set(started)
    log = fleet.dispatcher_log(next(iter(fleet.dispatchers)))
    assert all(f'{frozen} still held {j}' in log for j in mine)


async def _all_final(fleet: Kitchen, robot_id: str, job_ids: list[str]) -> bool:
    entries = fleet.entries(robot_id)
    return all(entries[j].final and entries[j].status != lg.DONE for j in job_ids)
