"""Redis through Sentinel: a primary, a replica and three sentinels (real `redis-server` and
`redis-sentinel` processes). Clients follow a failover by themselves; an order's 201 waits for
the replica; a failover in the middle of a rush loses no acknowledged order and cooks no dish
twice (real API, `robodine dispatcher` and robot processes over DDS)."""

from __future__ import annotations

import asyncio
import secrets
import signal
import time
from collections.abc import AsyncIterator, Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest
import redis.exceptions
from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.config import RestaurantConfig
from orchestrator.redis_server import RedisHA, RedisServer
from orchestrator.settings import Settings
from orchestrator.store import connection, jobs, trips
from orchestrator.store.replication import Replicas
from tests.api_helpers import settings_for, token_for, uvicorn_server
from tests.dispatch_support import (
    Diners,
    Kitchen,
    kitchen_running,
    nothing_pending,
    restaurant_open,
    wait_for,
    write_order,
)
from tests.test_e2e_dispatch import assert_cooked_once, random_orders
from tests.test_trips import ready_order

# The URL only gives the database: Sentinel names the server.
URL = 'redis://127.0.0.1:1/0'
RETRY = 'retry with the same Idempotency-Key'
WOKS = ('wok1', 'wok2')


@pytest.fixture
def ha(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RedisHA]:
    """The group, and this process's environment naming it (child processes inherit it)."""
    group = RedisHA(tmp_path / 'redis').start()
    for name, value in group.env().items():
        monkeypatch.setenv(name, value)
    try:
        yield group
    finally:
        group.stop()


def ha_settings(ha: RedisHA, **overrides: object) -> Settings:
    return settings_for(URL, redis_sentinels=ha.sentinel_addresses, **overrides)


@pytest.fixture
async def r(ha: RedisHA) -> AsyncIterator[Redis]:
    client = connection.connect(ha_settings(ha))
    yield client
    await client.aclose()


async def until_written(r: Redis, key: str, value: str) -> int:
    """SET until it is taken (the failover may be under way); how many attempts failed."""
    failed = 0
    while True:
        try:
            await r.set(key, value)
            return failed
        except redis.exceptions.ConnectionError:
            failed += 1
            await asyncio.sleep(0.1)


async def test_a_client_follows_the_failover(ha: RedisHA, r: Redis) -> None:
    await r.set('before', '1')
    assert await r.wait(1, 5000) == 1  # on the replica too
    old = ha.primary()
    old.kill()
    await until_written(r, 'after', '2')
    new = ha.wait_failover(old)
    assert new is not old
    assert await r.get('before') == '1'  # acknowledged by the replica: survived
    sync = connection.connect_sync(ha_settings(ha))
    try:
        assert sync.get('after') == '2'
    finally:
        sync.close()


def the_replica(ha: RedisHA) -> RedisServer:
    (replica,) = (s for s in ha.servers if s is not ha.primary())
    return replica


async def test_an_order_waits_for_the_replica(ha: RedisHA, r: Redis, tmp_path: Path) -> None:
    env = {'ROBODINE_REDIS_MIN_REPLICAS': '1', 'ROBODINE_REDIS_REPLICA_TIMEOUT_MS': '300'}
    body = {'items': [{'dish_id': 'fried-rice', 'quantity': 1}]}
    with uvicorn_server(URL, tmp_path, env) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:

            async def order(key: str) -> httpx.Response:
                return await client.post(
                    f'/api/tables/{token_for("t01")}/orders',
                    json=body,
                    headers={'Idempotency-Key': key},
                )

            assert (await order(secrets.token_hex(8))).status_code == 201
            replica = the_replica(ha)
            assert replica.proc is not None
            replica.proc.send_signal(signal.SIGSTOP)  # it stops acknowledging
            key = secrets.token_hex(8)
            try:
                refused = await order(key)
            finally:
                replica.proc.send_signal(signal.SIGCONT)
            assert refused.status_code == 503, refused.text
            assert RETRY in refused.json()['detail']
            # The retry gets the order the primary stored, once the replica has it too.
            again = await order(key)
            assert again.status_code == 201, again.text
            assert (await order(key)).json()['id'] == again.json()['id']
            orders = await r.zrange('rd:table:t01:orders', 0, -1)
            assert again.json()['id'] in orders and len(orders) == 2


async def test_a_claim_a_lease_and_a_trip_say_whether_the_replica_has_them(
    ha: RedisHA, r: Redis, demo_config: RestaurantConfig
) -> None:
    replicas = Replicas(1, 300)
    _, (first, second) = await write_order(r, demo_config, 't01', [('kungpao', 2)])
    claim = await jobs.claim(r, first, 'd1', 'wok1', 5, replicas=replicas)
    assert isinstance(claim, jobs.Claim) and claim.replicated
    ready = await ready_order(r, demo_config, 't02')
    replica = the_replica(ha)
    assert replica.proc is not None
    replica.proc.send_signal(signal.SIGSTOP)  # it stops acknowledging
    try:
        late = await jobs.claim(r, second, 'd1', 'wok2', 5, replicas=replicas)
        assert isinstance(late, jobs.Claim) and not late.replicated
        renewed = await jobs.renew_leases(r, 'd1', 5, [jobs.Lease(first, claim.epoch)], replicas)
        assert renewed == ([jobs.RENEWED], False)
        entry = {ready: '1-0'}  # its delivery entry's id
        stop = trips.Stop('t02', (0,), (ready,), ('kungpao',))
        assert await trips.create(r, 'trip-1', 'serve1', 'd1', 5, entry, lambda o: [stop])
        assert await trips.renew(r, 'trip-1', 1, 'd1', 5, replicas) == (True, False)
    finally:
        replica.proc.send_signal(signal.SIGCONT)
    # Confirmed by a later write's WAIT, which covers every write before it.
    lease = jobs.Lease(second, late.epoch, time.time_ns())
    assert await jobs.renew_leases(r, 'd1', 5, [lease], replicas) == ([jobs.RENEWED], True)
    assert await trips.renew(r, 'trip-1', 1, 'd1', 5, replicas) == (True, True)
    # A trip that is not there (a failover lost its creation) is not ours to keep.
    assert await trips.renew(r, 'trip-2', 1, 'd1', 5, replicas) == (False, True)
    copy = Redis(port=replica.port, decode_responses=True)
    try:
        assert await copy.hmget(keys.job(second), 'robot', 'epoch') == ['wok2', str(late.epoch)]
        assert await copy.hget(keys.trip('trip-1'), 'robot_id') == 'serve1'
    finally:
        await copy.aclose()


# -- a failover in the middle of a rush ------------------------------------------------------

TIME_SCALE = 200.0
PICKUP_TIMEOUT_S = 3000.0


@pytest.fixture
def kitchen(
    ha: RedisHA, tmp_path: Path, demo_config: RestaurantConfig, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Kitchen]:
    """Every robot, on the group; the API and dispatcher started next wait for the replica:
    an order's 201, a claim before its goal, a lease before a robot hears it."""
    monkeypatch.setenv('ROBODINE_REDIS_MIN_REPLICAS', '1')
    with kitchen_running(demo_config, tmp_path / 'kitchen', TIME_SCALE, PICKUP_TIMEOUT_S) as k:
        yield k


@pytest.mark.ros
async def test_primary_killed_mid_rush(
    ha: RedisHA, r: Redis, tmp_path: Path, demo_config: RestaurantConfig, kitchen: Kitchen
) -> None:
    # Every 201 waits for the replica: the primary's death cannot take an acknowledged order.
    planned = random_orders(demo_config, 60, seed=14)
    async with restaurant_open(kitchen, URL, r, tmp_path) as (_, diners):
        # A stream of orders; the primary dies once a third of them are in and some are
        # cooking. It is started again (as a supervisor would) and the sentinels make it
        # the new primary's replica.
        stream = asyncio.create_task(_stream(diners, planned))
        await wait_for(lambda: _in_and_cooking(diners, 20), 120, what='a rush under way')
        old = ha.primary()
        old.kill()
        await asyncio.to_thread(ha.wait_failover, old)
        await asyncio.to_thread(old.start)
        placed = await stream
        assert len(placed) == len(planned), diners.refused
        await wait_for(lambda: _all_served(diners), 300, 0.2, 'every accepted order served')
        await assert_cooked_once(kitchen, diners)
        # Every entry acknowledged (one whose ack a failover lost: once its lease ends).
        await wait_for(lambda: _settled(r, demo_config), 60, 0.2, 'nothing pending')
    # The switch was seen, and its refusals were 503s that asked for a retry, never a 500.
    answers = [x for x in diners.refused if x[:1].isdigit()]
    assert answers and all(x.startswith('503') and RETRY in x for x in answers), answers


@pytest.mark.ros
async def test_no_cook_goal_leaves_before_a_replica_has_its_claim(
    ha: RedisHA,
    r: Redis,
    tmp_path: Path,
    demo_config: RestaurantConfig,
    kitchen: Kitchen,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A claim a failover could roll back would be taken again under the same epoch, maybe for
    another robot, while its robot cooks it: the goal waits until a replica has the claim."""
    monkeypatch.setenv('ROBODINE_REDIS_REPLICA_TIMEOUT_MS', '200')
    async with restaurant_open(kitchen, URL, r, tmp_path):
        replica = the_replica(ha)
        assert replica.proc is not None
        replica.proc.send_signal(signal.SIGSTOP)
        try:
            # Taken by the intake (not waiting for replicas) while the replica is stopped.
            _, job_ids = await write_order(r, demo_config, 't03', [('kungpao', 2)])
            claimed = partial(_all_jobs, r, job_ids, 'dispatched')
            await wait_for(claimed, 30, 0.05, 'the dishes claimed')
            await asyncio.sleep(1.0)  # five rounds of waiting for the replica
            assert not any(j in kitchen.entries(robot) for j in job_ids for robot in WOKS)
        finally:
            replica.proc.send_signal(signal.SIGCONT)

        cooked = partial(_all_jobs, r, job_ids, 'cooked')
        await wait_for(cooked, 60, 0.1, 'the dishes cooked once the replica has the claims')
        assert all(kitchen.cooked()[j] == 1 for j in job_ids), kitchen.cooked()
        log = kitchen.dispatcher_log(next(iter(kitchen.dispatchers)))
        assert 'no replica confirmed it yet' in log


async def _all_jobs(r: Redis, job_ids: list[str], status: str) -> bool:
    return all([await r.hget(keys.job(j), 'status') == status for j in job_ids])


async def _stream(diners: Diners, orders: list[tuple[str, list[tuple[str, int]]]]) -> list[str]:
    """The orders one every 50 ms, each retried (same key) long enough to outlast the switch
    and the old primary's return as a replica."""
    placing = []
    for table_id, items in orders:
        placing.append(asyncio.create_task(diners.order(table_id, items, attempts=40)))
        await asyncio.sleep(0.05)
    return [o for o in await asyncio.gather(*placing) if o]


async def _in_and_cooking(diners: Diners, n: int) -> bool:
    statuses = (await diners.statuses()).values()
    return len(statuses) >= n and 'cooking' in statuses


async def _all_served(diners: Diners) -> bool:
    try:
        return await diners.all_in('served')
    except redis.exceptions.ConnectionError:
        return False


async def _settled(r: Redis, cfg: RestaurantConfig) -> bool:
    return not await nothing_pending(r, cfg)
