"""Robots on another host, cut off for 30 s mid-cook: every robot node runs in a network
namespace of its own, joined to the test's (redis-server, `robodine serve`, a `robodine
dispatcher`) by a veth pair; DDS finds the other side by its address (`ROS_STATIC_PEERS`, as on a
restaurant LAN without multicast). With the link down, the robots go on cooking and hold what
they finished, the dispatcher calls them unreachable and moves none of their work; when the link
is back every result is reconciled: every order served, every dish cooked once by the robots'
own ledgers, nothing wasted."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.config import load_restaurant
from orchestrator.store import orders, robots
from robot_nodes import ledger as lg
from tests.api_helpers import config_with
from tests.dispatch_support import Diners, Kitchen, restaurant_open, wait_for
from tests.netns import Link, Unavailable, robots_apart

pytestmark = pytest.mark.ros

CUT_S = 30.0
# Kungpao takes 240 simulated s: 24 s here.
TIME_SCALE = 10.0
# A cut this long is a network hiccup, not a dead robot: it keeps its work (real seconds).
LOST_AFTER_S = 60.0
BEFORE = {
    't01': [('kungpao', 1), ('iced-tea', 1)],
    't02': [('bulgogi', 1), ('ramyeon', 1)],
    't03': [('fries', 1), ('mochi', 1)],
    't04': [('jeyuk', 1), ('lemonade', 1)],
}
DURING = {'t05': [('udon', 1)], 't06': [('sikhye', 1)]}


@pytest.fixture
def link() -> Iterator[Link]:
    try:
        with robots_apart(int(os.environ['ROS_DOMAIN_ID'])) as made:
            yield made
    except Unavailable as e:
        pytest.skip(f'no network namespaces here: {e}')


@pytest.fixture
def fleet(tmp_path: Path, link: Link) -> Iterator[Kitchen]:
    config_path = config_with(tmp_path, {'service.robot_lost_after_s': LOST_AFTER_S})
    cfg = load_restaurant(config_path)
    kitchen = Kitchen(
        cfg,
        tmp_path / 'kitchen',
        TIME_SCALE,
        robot_params={s.id: {'pickup_timeout_s': 3000.0} for s in cfg.serving_robots},
        config_path=config_path,
        robot_wrap=link.wrap,
        robot_env={'ROS_STATIC_PEERS': link.orchestrator_ip},
        dispatcher_env={'ROS_STATIC_PEERS': link.robot_ip},
    )
    try:
        kitchen.start_all_robots()
        yield kitchen
    finally:
        kitchen.stop()


@pytest.fixture
async def diners(
    fleet: Kitchen, redis_url: str, aredis: Redis, tmp_path: Path
) -> AsyncIterator[Diners]:
    async with restaurant_open(fleet, redis_url, aredis, tmp_path, idle=True) as (_, d):
        yield d


def _ledgers(fleet: Kitchen) -> dict[str, lg.Entry]:
    """Every cook entry of every cooking robot's ledger."""
    return {j: e for c in fleet.cfg.cooking_robots for j, e in fleet.entries(c.id).items()}


async def _claims(r: Redis, job_ids: list[str]) -> dict[str, tuple[str, str]]:
    """Each job's robot and epoch as Redis has them."""
    async with r.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.hmget(keys.job(job_id), 'robot', 'epoch')
        return {
            j: (str(v[0]), str(v[1])) for j, v in zip(job_ids, await pipe.execute(), strict=True)
        }


async def _alerted(r: Redis, kind: str) -> set[str]:
    return {f.get('robot_id', '') for _, f in await r.xrange(keys.ALERTS) if f['kind'] == kind}


async def test_a_cut_link_loses_nothing_and_cooks_nothing_twice(
    fleet: Kitchen, diners: Diners, link: Link
) -> None:
    r, ids = diners.r, fleet.robot_ids()
    for table_id, items in BEFORE.items():
        assert await diners.order(table_id, items)

    async def some_cooking() -> bool:
        statuses = [await r.hget(keys.job(j), 'status') for j in await _job_ids(diners)]
        return statuses.count('cooking') >= 4

    await wait_for(some_cooking, 60, 0.05, 'four dishes cooking')
    before = await _job_ids(diners)
    link.cut()
    cut_at = time.time()
    try:
        # Both sides see the other go: every robot is unreachable, none lost.
        async def all_unreachable() -> bool:
            states = await robots.get_many(r, ids)
            return all(s is not None and s.mode == 'unreachable' for s in states.values())

        await wait_for(all_unreachable, 15, 0.1, 'every robot unreachable')
        claims = await _claims(r, before)
        # Diners still order; their dishes wait for a robot.
        for table_id, items in DURING.items():
            assert await diners.order(table_id, items)

        # The robots go on cooking and hold what they finish.
        async def finished_in_the_dark() -> list[str]:
            return [
                j
                for j, e in _ledgers(fleet).items()
                if e.status == lg.DONE and e.updated_at > cut_at
            ]

        done = await wait_for(finished_in_the_dark, CUT_S - 5, 0.5, 'a dish finished in the cut')
        await asyncio.sleep(max(0.0, cut_at + CUT_S - time.time()))
        # Nothing moved to another robot, nobody gave up on a robot.
        assert await _claims(r, before) == claims
        assert not await _alerted(r, 'robot_lost')
        assert set(ids) <= await _alerted(r, 'robot_unreachable')
        assert [await r.hget(keys.job(j), 'status') for j in done] == ['cooking'] * len(done)
    finally:
        link.mend()
    await diners.wait_served(180, 'every order served after the cut')
    everything = await _job_ids(diners)
    cooked = fleet.cooked()
    assert {j: cooked[j] for j in everything} == dict.fromkeys(everything, 1)
    assert not await _alerted(r, 'dish_cooked_twice')
    assert not await _alerted(r, 'robot_lost')
    wasted = [j for j, e in _ledgers(fleet).items() if e.status == lg.WASTED]
    assert not wasted


async def _job_ids(d: Diners) -> list[str]:
    """Every dish of every order placed so far."""
    out: list[str] = []
    for order_id in d.orders:
        record = await orders.get(d.r, order_id)
        assert record is not None
        out += record.job_ids()
    return out
