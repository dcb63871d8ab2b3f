"""A serving robot that dies with food on board: the store's transitions alone (real Redis),
then real robot processes over DDS, a real `robodine dispatcher` and `robodine serve` with its
console:

- SIGKILLed while waiting at a table and never restarted: within `robot_lost_after_s` + 5 s the
  orders on its trip are `lost_in_transit` with one alert naming the robot, where it was last
  and the table; the operator's three choices each work on the console (delivered by hand,
  cancel, remake: cooked again and carried by another robot, never by the lost one);
- SIGSTOPped until it is lost, then SIGCONTed: it is told to cancel the trip, brings the food
  back to the pass and the console says so; its order stays lost until an operator decides.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import AsyncIterator, Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.config import RestaurantConfig
from orchestrator.dispatch import delivery
from orchestrator.store import jobs, orders, trips
from tests.api_helpers import settings_for, uvicorn_server
from tests.console_support import sign_in
from tests.dispatch_support import (
    Diners,
    Kitchen,
    ensure_groups,
    kitchen_running,
    wait_for,
    write_order,
)

TIME_SCALE = 20.0
# Nobody picks up unless the test says so: the robot waits at the table (150 s real).
PICKUP_TIMEOUT_S = 3000.0
TABLE = 't05'


async def test_lost_trip_in_the_store(aredis: Redis, demo_config: RestaurantConfig) -> None:
    """Orders the robot set off with are lost (one alert); one it never reported leaving with
    is queued for delivery again; the operator's choices apply once."""
    r, cfg = aredis, demo_config
    await ensure_groups(r, cfg)
    placed = [await write_order(r, cfg, TABLE, [('iced-tea', 1)]) for _ in range(3)]
    for _, (job_id,) in placed:
        assert await jobs.complete(r, job_id, epoch=None, by='test') == jobs.COOKED
    order_ids = [o for o, _ in placed]
    entries = {
        o: i for i, f in await r.xrange(keys.DELIVERIES) for o in [f['order_id']] if o in order_ids
    }
    ready = [delivery.ReadyOrder(o, TABLE, entries[o], 0.0) for o in order_ids]
    stops = await trips.create(
        r, 'trlost', 'serve1', 'test', 10.0, entries, lambda _: delivery.stops(cfg, ready)
    )
    assert len(stops) == 1
    on_board, at_pass = order_ids[:2], order_ids[2]
    assert await trips.record(r, 'trlost', 1, on_board, 'delivery.started', {}, orders.DELIVERING)

    lost = await trips.lost(r, 'trlost', 1, 'at (5.5, 7.0) m near stop-t05')
    assert lost == on_board
    assert [await r.hget(keys.order(o), 'status') for o in order_ids] == [
        'lost_in_transit',
        'lost_in_transit',
        'ready',
    ]
    assert await r.hget(keys.order(on_board[0]), 'robot_id') == 'serve1'
    assert await r.hget(keys.order(at_pass), 'trip_id') is None
    # The trip's entries are settled; the food at the pass has a new one.
    new = [f['order_id'] for i, f in await r.xrange(keys.DELIVERIES) if i not in entries.values()]
    assert new == [at_pass]
    [alert] = await _alerts(r, 'food_lost_in_transit')
    assert 'near stop-t05' in alert['message'] and at_pass not in alert['message']
    assert await trips.lost(r, 'trlost', 1, 'elsewhere') == []  # the trip is over

    remade, served = on_board
    remake = await trips.settle_lost(r, remade, 'remake', 'ana')
    assert str(remake) == f'order {remade} remade (1 dishes queued)'
    with pytest.raises(trips.NotLost):
        await trips.settle_lost(r, remade, 'cancel', 'ana')
    order = await orders.get(r, remade)
    assert order is not None and order.status == 'cooking' and order.remade == 1
    assert order.job_ids() == [f'{remade}-00-01'] and order.jobs_total == 1
    job = await jobs.get(r, f'{remade}-00-01')
    assert job is not None and job.status == 'queued' and job.arrived_at == order.created_at
    assert order.all_job_ids() == [f'{remade}-00-00', f'{remade}-00-01']
    delivered = await trips.settle_lost(r, served, 'delivered', 'ana')
    assert str(delivered) == f'order {served} marked delivered by hand'
    assert await r.hget(keys.order(served), 'status') == 'served'


@pytest.fixture(scope='module')
def fleet(
    tmp_path_factory: pytest.TempPathFactory, demo_config: RestaurantConfig
) -> Iterator[Kitchen]:
    # serve1 and serve2 are started by the tests, when they need them.
    with kitchen_running(
        demo_config, tmp_path_factory.mktemp('kitchen'), TIME_SCALE, PICKUP_TIMEOUT_S, ['bar1']
    ) as kitchen:
        yield kitchen


class Console:
    """A signed-in operator on the console API."""

    def __init__(self, client: httpx.AsyncClient, csrf: str) -> None:
        self.client, self.csrf = client, csrf

    async def lost(self, order_id: str, choice: str) -> httpx.Response:
        return await self.client.post(
            f'/console/api/orders/{order_id}/lost',
            json={'choice': choice},
            headers={'X-CSRF-Token': self.csrf},
        )


@pytest.fixture
async def restaurant(
    fleet: Kitchen, redis_url: str, aredis: Redis, tmp_path: Path
) -> AsyncIterator[tuple[Diners, Console]]:
    with uvicorn_server(redis_url, tmp_path) as server:
        fleet.start_dispatcher(redis_url)
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
                diners = Diners(client, aredis, settings_for(redis_url), fleet.cfg)
                console = Console(client, await sign_in(client, aredis))
                yield diners, console
        finally:
            fleet.stop_dispatchers()


async def _mode(r: Redis, robot_id: str) -> str | None:
    return await r.hget(keys.robot(robot_id), 'mode')


async def _alerts(r: Redis, kind: str, at_least: int = 0) -> list[dict[str, str]]:
    """The alerts of `kind`, or none until there are `at_least`."""
    found = [f for _, f in await r.xrange(keys.ALERTS) if f.get('kind') == kind]
    return found if len(found) >= at_least else []


async def _statuses(diners: Diners, order_ids: list[str]) -> list[str]:
    statuses = await diners.statuses()
    return [statuses[o] for o in order_ids]


async def _all(diners: Diners, order_ids: list[str], status: str) -> bool:
    return await _statuses(diners, order_ids) == [status] * len(order_ids)


async def _order_all(diners: Diners, n: int) -> list[str]:
    out = []
    for _ in range(n):
        order_id = await diners.order(TABLE, [('iced-tea', 1)])
        assert order_id, diners.refused
        out.append(order_id)
    return out


@pytest.mark.ros
async def test_killed_with_food_on_board(
    fleet: Kitchen, restaurant: tuple[Diners, Console], aredis: Redis
) -> None:
    diners, console = restaurant
    r = aredis
    await wait_for(lambda: _mode(r, 'bar1'), 60, what='bar1 heard')
    # Three orders for one table, all ready before any serving robot is up: one trip.
    order_ids = await _order_all(diners, 3)
    await wait_for(lambda: diners.all_in('ready'), 60, what='all ready')
    fleet.start_robot('serve1')

    await wait_for(
        lambda: _all(diners, order_ids, 'arrived'), 60, what='serve1 waiting at the table'
    )
    trip_id = await r.hget(keys.order(order_ids[0]), 'trip_id')
    fleet.kill_robot('serve1')
    killed = time.monotonic()

    lost_after = fleet.cfg.service.robot_lost_after_s
    [alert] = await wait_for(
        lambda: _alerts(r, 'food_lost_in_transit'), lost_after + 5, what='the lost-food alert'
    )
    assert time.monotonic() - killed <= lost_after + 5
    assert alert['robot_id'] == 'serve1' and alert['trip_id'] == trip_id
    assert 'last seen at (' in alert['message'] and TABLE in alert['message']
    assert all(o in alert['message'] for o in order_ids), alert['message']
    assert await _statuses(diners, order_ids) == ['lost_in_transit'] * 3
    trip = await r.hgetall(keys.trip(trip_id))
    assert trip['status'] == 'done' and trip['outcome'] == 'lost'
    assert await _mode(r, 'serve1') == 'lost'

    delivered, cancelled, remade = order_ids
    # A choice for an order that is not lost is refused with its reason.
    refused = await console.lost('onotanorder', 'cancel')
    assert refused.status_code == 404
    assert (await console.lost(delivered, 'eat-it')).status_code == 422

    res = await console.lost(delivered, 'delivered')
    assert res.status_code == 200, res.text
    assert (await console.lost(delivered, 'remake')).status_code == 409
    res = await console.lost(cancelled, 'cancel')
    assert res.status_code == 200, res.text
    res = await console.lost(remade, 'remake')
    assert res.status_code == 200, res.text
    assert await _statuses(diners, order_ids) == ['served', 'cancelled', 'cooking']
    events = [f['type'] for _, f in await r.xrange(keys.order_events(delivered))]
    assert events[-2:] == ['delivery.lost', 'delivery.served']

    # The remade dish is a new job, cooked again; it waits for a robot that is not lost.
    order = await r.hgetall(keys.order(remade))
    assert order['remade'] == '1' and 'robot_id' not in order
    await wait_for(lambda: _all(diners, [remade], 'ready'), 60, what='remade ready')
    assert fleet.cooked()[f'{remade}-00-01'] == 1 and fleet.cooked()[f'{remade}-00-00'] == 1
    fleet.start_robot('serve2')
    picker = asyncio.create_task(diners.pick_up())
    try:
        await wait_for(lambda: _all(diners, [remade], 'served'), 60, what='remade served')
    finally:
        picker.cancel()
    served = [
        json.loads(f['data'])
        for _, f in await r.xrange(keys.order_events(remade))
        if f['type'] == 'delivery.served'
    ]
    assert served[-1]['robot_id'] == 'serve2'
    assert await _mode(r, 'serve1') == 'lost'


@pytest.mark.ros
async def test_lost_robot_comes_back_with_the_food(
    fleet: Kitchen, restaurant: tuple[Diners, Console], aredis: Redis
) -> None:
    diners, _ = restaurant
    r = aredis
    if 'serve2' not in fleet.robots:
        fleet.start_robot('serve2')
    await wait_for(lambda: _mode(r, 'serve2'), 60, what='serve2 heard')
    [order_id] = await _order_all(diners, 1)
    await wait_for(lambda: _all(diners, [order_id], 'arrived'), 60, what='serve2 at the table')
    robot = fleet.robots['serve2']
    robot.send_signal(signal.SIGSTOP)
    try:
        await wait_for(lambda: _all(diners, [order_id], 'lost_in_transit'), 30, what='lost')
    finally:
        robot.send_signal(signal.SIGCONT)
    [back] = await wait_for(
        lambda: _alerts(r, 'robot_back_with_food'), 30, what='the console told it is back'
    )
    assert back['robot_id'] == 'serve2' and TABLE in back['message']
    assert 'bringing the food back to the pass' in back['message'], back['message']

    async def home() -> bool:
        state = await r.hgetall(keys.robot('serve2'))
        return state.get('mode') == 'idle' and state.get('jobs') == '[]'

    await wait_for(home, 60, what='serve2 back and idle')
    # The food came back; what happens to the order is the operator's choice.
    assert await _statuses(diners, [order_id]) == ['lost_in_transit']


@pytest.mark.ros
async def test_a_lost_robot_raises_one_alert_whatever_the_number_of_dispatchers(
    fleet: Kitchen, redis_url: str, aredis: Redis
) -> None:
    """Every dispatcher watches every robot, and each raised its own `robot_lost`: two
    dispatchers, two critical alerts for one robot. Now one per loss; heard again, the robot's
    next loss raises a new one."""
    names = [fleet.start_dispatcher(redis_url) for _ in range(2)]
    logged = partial(fleet.logged_by, names)

    try:
        fleet.start_robot('serve3')
        await wait_for(logged('serve3 heard', 1), 60, what='serve3 heard by both')
        for loss in (1, 2):
            if loss == 2:  # back: each dispatcher clears what its silence raised
                await wait_for(logged('serve3 is back', 1), 60, what='serve3 back in both')
            fleet.kill_robot('serve3')
            # Both dispatchers had heard it: both watched it go silent (each logs that just
            # before it raises the alert).
            await wait_for(logged('serve3 lost: no heartbeat', loss), 60, what='lost in both')
            raised = await wait_for(partial(_alerts, aredis, 'robot_lost', loss), 10, what='alert')
            assert len(raised) == loss, raised
            if loss == 1:
                fleet.start_robot('serve3')
    finally:
        if 'serve3' in fleet.robots:
            fleet.kill_robot('serve3')
        fleet.stop_dispatchers()
