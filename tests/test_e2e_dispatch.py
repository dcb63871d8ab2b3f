"""The dispatcher end to end: the real API, `robodine dispatcher` processes, robot node
processes over DDS and a real redis-server; failures injected with real signals."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from orchestrator import jobs
from orchestrator import redis_keys as keys
from orchestrator.config import RestaurantConfig
from orchestrator.redis_server import RedisServer
from tests.api_helpers import settings_for, uvicorn_server
from tests.dispatch_support import Diners, Kitchen, nothing_pending, robots_heard, wait_for

pytestmark = pytest.mark.ros

TIME_SCALE = 100.0
# Simulated seconds; long enough for the test's diners to confirm every pickup.
PICKUP_TIMEOUT_S = 3000.0
STATUS_ORDER = ['received', 'cooking', 'ready', 'delivering', 'arrived', 'served']


@pytest.fixture(scope='module')
def fleet(
    tmp_path_factory: pytest.TempPathFactory, demo_config: RestaurantConfig
) -> Iterator[Kitchen]:
    kitchen = Kitchen(
        demo_config,
        tmp_path_factory.mktemp('kitchen'),
        TIME_SCALE,
        robot_params={
            s.id: {'pickup_timeout_s': PICKUP_TIMEOUT_S} for s in demo_config.serving_robots
        },
    )
    kitchen.start_all_robots()
    yield kitchen
    kitchen.stop()


@pytest.fixture
async def diners(
    fleet: Kitchen, redis_url: str, aredis: Redis, tmp_path: Path
) -> AsyncIterator[Diners]:
    """The API and one dispatcher up, every robot heard, diners confirming pickups."""
    with uvicorn_server(redis_url, tmp_path) as server:
        fleet.start_dispatcher(redis_url)
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
            d = Diners(client, aredis, settings_for(redis_url), fleet.cfg)
            await wait_for(lambda: robots_heard(aredis, fleet.cfg), 60, what='robots')
            picker = asyncio.create_task(d.pick_up())
            try:
                yield d
            finally:
                picker.cancel()
                fleet.stop_dispatchers()


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
    # 4 dishes over 3 stations: two woks, a drink, fries.
    order_id = await diners.order('t06', [('kungpao', 2), ('iced-tea', 1), ('fries', 1)])
    assert order_id
    events = await asyncio.wait_for(sse_events(diners.client, diners.token('t06'), order_id), 90)
    types = [e['type'] for e in events]
    statuses = [e['status'] for e in events if e['status']]
    # Every status once, in order (consecutive repeats are fine: two dishes start cooking).
    assert list(dict.fromkeys(statuses)) == STATUS_ORDER, types
    assert types.count('dish.cooking') == 4 and types.count('dish.cooked') == 4
    cooked = [e['data'] for e in events if e['type'] == 'dish.cooked']
    assert [c['cooked'] for c in cooked] == [1, 2, 3, 4] and cooked[-1]['total'] == 4
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


async def _no_pending(d: Diners) -> bool:
    return not await nothing_pending(d.r, d.cfg)
