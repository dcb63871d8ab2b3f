"""A robot in fault under the console's controls, on real processes: the API, a dispatcher, a
serving robot node with `driver:=nav2` and the tests' Nav2 stand-in (tests/nav2_standin.py)
over DDS, and a real redis-server. A module of its own: the robot is not the sim one the
other control tests run (one serve1 per DDS domain)."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.config import RestaurantConfig
from orchestrator.store import orders
from tests.api_helpers import line, token_for, uvicorn_server
from tests.console_support import place_order, sign_in
from tests.dispatch_support import Kitchen, wait_for
from tests.ros_helpers import start_nav2_standin, stop_process

pytestmark = pytest.mark.ros

TIME_SCALE = 20.0
ROBOT = 'serve1'
# The robot's `nav2.retry_s`: wall seconds between tries of a goal Nav2 failed.
RETRY_S = 1.0


async def test_a_robot_in_fault_is_paused_and_resumed_from_the_console(
    redis_url: str, aredis: Redis, tmp_path: Path, demo_config: RestaurantConfig
) -> None:
    """serve1's Nav2 aborts every goal: on its trip it is in fault, trying again every
    `nav2.retry_s`. The operator pauses it on the console (through a dispatcher, over DDS): it
    is paused and tries nothing; it is not sent to its dock. Nav2 fixed meanwhile, the operator
    resumes it and the food reaches its table."""
    dock = demo_config.floor.points[demo_config.serving_robot_by_id[ROBOT].dock]
    params = {'driver': 'nav2', 'nav2.retry_s': RETRY_S, 'peer_wait_s': 0.0}
    params['pickup_timeout_s'] = 3000.0
    kitchen = Kitchen(demo_config, tmp_path, TIME_SCALE, robot_params={ROBOT: params})

    def nav2(abort_goals: int) -> subprocess.Popen[bytes]:
        log = tmp_path / f'nav2-{abort_goals}.log'
        at = (dock.x, dock.y)
        return start_nav2_standin(ROBOT, at, TIME_SCALE, log, abort_goals=abort_goals)

    async def robot(field: str) -> str:
        return str(await aredis.hget(keys.robot(ROBOT), field))

    async def mode_is(mode: str) -> bool:
        return await robot('mode') == mode

    async def arrived(order_id: str) -> bool:
        order = await orders.get(aredis, order_id)
        return order is not None and order.status == orders.ARRIVED

    standin = nav2(abort_goals=1000)
    kitchen.start_robot(ROBOT)
    try:
        with uvicorn_server(redis_url, tmp_path) as server:
            kitchen.start_dispatcher(redis_url)
            async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
                client.headers['X-CSRF-Token'] = await sign_in(client, aredis)
                console = f'/console/api/robots/{ROBOT}'
                await wait_for(lambda: mode_is('idle'), 90, what='serve1 idle')
                # A dish cooked by hand (no cooking robot here): serve1 is sent with it.
                order_id = (await place_order(client, token_for('t01'), [line('mochi')]))['id']
                bump = f'/console/api/orders/{order_id}/dishes/{order_id}-00-00/bump'
                assert (await client.post(bump)).status_code == 200
                await wait_for(lambda: mode_is('fault'), 60, what='serve1 in fault')
                assert (await client.post(f'{console}/pause')).status_code == 200
                await wait_for(lambda: mode_is('paused'), 30, what='serve1 paused')
                detail = await robot('detail')
                assert detail.startswith('paused by operator (Nav2 aborted'), detail
                res = await client.post(f'{console}/dock')
                assert res.status_code == 409 and 'resume it first' in res.json()['detail']
                # Three tries' time: a goal sent would be aborted, a new number in the detail.
                await asyncio.sleep(3 * RETRY_S)
                assert await robot('detail') == detail
                stop_process(standin)
                standin = nav2(abort_goals=0)
                assert (await client.post(f'{console}/resume')).status_code == 200
                await wait_for(lambda: arrived(order_id), 90, what='the food at t01')
    finally:
        kitchen.stop()
        stop_process(standin)
