"""Food nobody picks up: the robot brings it back, an operator is alerted, the order is never
marked served and is not sent out again until an operator says so."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Iterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.config import RestaurantConfig
from orchestrator.store import alerts, trips
from tests.api_helpers import settings_for, uvicorn_server
from tests.dispatch_support import Diners, Kitchen, kitchen_running, wait_for

pytestmark = pytest.mark.ros

TIME_SCALE = 100.0
# Simulated seconds at the table: 1.5 s here.
PICKUP_TIMEOUT_S = 150.0
ROBOTS = ('bar1', 'serve1')


@pytest.fixture(scope='module')
def fleet(
    tmp_path_factory: pytest.TempPathFactory, demo_config: RestaurantConfig
) -> Iterator[Kitchen]:
    with kitchen_running(
        demo_config, tmp_path_factory.mktemp('kitchen'), TIME_SCALE, PICKUP_TIMEOUT_S, ROBOTS
    ) as kitchen:
        yield kitchen


async def _heard(r: Redis) -> bool:
    return all([await r.hget(keys.robot(i), 'mode') in ('idle', 'busy') for i in ROBOTS])


async def _events(r: Redis, order_id: str) -> list[dict[str, str]]:
    return [f for _, f in await r.xrange(keys.order_events(order_id))]


async def _alert_open(r: Redis, order_id: str) -> bool:
    """The order's pickup_timeout alert wants attention (neither acknowledged nor resolved)."""
    (alert,) = [
        a
        for a in await alerts.recent(r)
        if (a['kind'], a.get('order_id')) == ('pickup_timeout', order_id)
    ]
    return not alerts.handled(alert)


async def _not(value: Awaitable[bool]) -> bool:
    return not await value


async def test_pickup_never_confirmed(
    fleet: Kitchen, redis_url: str, aredis: Redis, tmp_path: Path
) -> None:
    with uvicorn_server(redis_url, tmp_path) as server:
        fleet.start_dispatcher(redis_url)
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
                diners = Diners(client, aredis, settings_for(redis_url), fleet.cfg)
                await wait_for(lambda: _heard(aredis), 60, what='robots')
                order_id = await diners.order('t05', [('iced-tea', 1), ('mochi', 1)])
                assert order_id

                async def came_back() -> bool:
                    types = [e['type'] for e in await _events(aredis, order_id)]
                    return 'delivery.returned' in types

                await wait_for(came_back, 60, what='the food back at the pass')
                order = await aredis.hgetall(keys.order(order_id))
                assert order['status'] == 'ready' and order['returned'] == '1'
                assert 'trip_id' not in order and 'robot_id' not in order
                returned = next(
                    e for e in await _events(aredis, order_id) if e['type'] == 'delivery.returned'
                )
                assert json.loads(returned['data'])['returned'] is True
                alerts = [f for _, f in await aredis.xrange(keys.ALERTS)]
                assert any(
                    a['kind'] == 'pickup_timeout'
                    and a['order_id'] == order_id
                    and a['robot_id'] == 'serve1'
                    for a in alerts
                ), alerts

                # Not sent out again on its own, and never served; the alert stays open.
                await asyncio.sleep(2.0)
                types = [e['type'] for e in await _events(aredis, order_id)]
                assert types.count('delivery.started') == 1 and 'delivery.served' not in types
                assert await aredis.hget(keys.order(order_id), 'status') == 'ready'
                assert await _alert_open(aredis, order_id)

                # The operator sends it again; this time the diner takes it.
                assert await trips.redeliver(aredis, order_id, 'op:kim')
                picker = asyncio.create_task(diners.pick_up())
                try:
                    await wait_for(lambda: diners.all_in('served'), 60, what='served')
                finally:
                    picker.cancel()
                assert await aredis.hget(keys.order(order_id), 'returned') is None
                # Its cause gone, the alert resolves by itself: the console no longer counts it.
                await wait_for(
                    lambda: _not(_alert_open(aredis, order_id)), 30, what='the alert resolved'
                )
        finally:
            fleet.stop_dispatchers()
