"""Several orchestrator processes at once, as `robodine up --api-workers N --dispatchers M`
starts them: API processes sharing one port (SO_REUSEPORT) and dispatchers sharing the work.
An API process and a dispatcher SIGKILLed mid-rush: every 201 order is served, every dish
cooked once by the robots' ledgers, and the diner's live stream works on the survivor."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from orchestrator.bringup import Child, Restaurant, orchestrator_processes
from orchestrator.config import RestaurantConfig
from orchestrator.redis_server import free_port
from orchestrator.settings import DEFAULT_CONFIG
from tests.api_helpers import settings_for, wait_until
from tests.dispatch_support import Diners, kitchen_running, robots_heard, wait_for
from tests.ros_helpers import keys_for, stop_process
from tests.test_e2e_dispatch import assert_cooked_once, random_orders, sse_events
from tests.test_redis_ha import _in_and_cooking, _settled, _stream

TIME_SCALE = 200.0
PICKUP_TIMEOUT_S = 3000.0


def test_up_starts_api_workers_and_dispatchers() -> None:
    env = {'X': '1'}
    procs = orchestrator_processes(env, DEFAULT_CONFIG, 'redis://r/0', '0.0.0.0', 80, 3, 2)
    assert [name for name, _, _ in procs] == [
        'orchestrator',
        'orchestrator-2',
        'orchestrator-3',
        'dispatcher-1',
        'dispatcher-2',
    ]
    serve = [argv for name, argv, _ in procs if name.startswith('orchestrator')]
    assert all('--reuse-port' in a and '--with-dispatcher' not in a for a in serve)
    # One archiver among the API processes.
    assert [e.get('ROBODINE_ARCHIVE_EVERY_S') for _, _, e in procs[:3]] == [None, '0', '0']
    # One API process alone binds as before, with the dispatcher inside.
    ((_, alone, _),) = orchestrator_processes(env, DEFAULT_CONFIG, 'redis://r/0', 'h', 80, 1, 0)
    assert '--reuse-port' not in alone and '--with-dispatcher' in alone


def test_a_restart_is_critical_only_when_no_process_like_it_carried_on(tmp_path: Path) -> None:
    rest = Restaurant(tmp_path, dict(os.environ))
    try:

        def spawn(name: str, running: bool, robot: bool = False) -> Child:
            return rest.spawn(name, ['sleep', '60' if running else '0'], robot=robot)

        api, api2 = spawn('orchestrator', False), spawn('orchestrator-2', True)
        disp = spawn('dispatcher-1', False)
        wok = spawn('wok1', False, robot=True)
        for child in (api, disp, wok):
            child.proc.wait()
        # Another API process took orders meanwhile; the only dispatcher was the kitchen's.
        assert rest.severity(api) == 'warning'
        assert rest.severity(disp) == 'critical'
        assert rest.severity(wok) == 'warning'
        api2.proc.kill()
        api2.proc.wait()
        assert rest.severity(api) == 'critical'
    finally:
        rest.stop()


@contextmanager
def orchestrators(
    redis_url: str, log_dir: Path, cfg: RestaurantConfig, api_workers: int, dispatchers: int
) -> Iterator[tuple[str, dict[str, subprocess.Popen[bytes]]]]:
    """The API and dispatcher processes `robodine up` would start; (base URL, processes)."""
    port = free_port()
    robot_ids = [c.id for c in cfg.cooking_robots] + [s.id for s in cfg.serving_robots]
    env = {
        **os.environ,
        'ROBODINE_DISPATCH_LEASE_S': '2',
        'ROBODINE_TIME_SCALE': str(TIME_SCALE),
        'ROBODINE_ROBOT_KEY_DIR': str(keys_for(robot_ids)),
        'PYTHONUNBUFFERED': '1',
    }
    procs: dict[str, subprocess.Popen[bytes]] = {}
    logs: dict[str, Path] = {}
    try:
        for name, argv, child_env in orchestrator_processes(
            env, DEFAULT_CONFIG, redis_url, '127.0.0.1', port, api_workers, dispatchers
        ):
            logs[name] = log_dir / f'{name}.log'
            with logs[name].open('wb') as out:
                procs[name] = subprocess.Popen(
                    argv, env=child_env, stdout=out, stderr=subprocess.STDOUT
                )

        def serving() -> bool:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f'{name} exited: {logs[name].read_text()}')
            return all(
                'Application startup complete' in logs[n].read_text(errors='replace')
                for n in procs
                if n.startswith('orchestrator')
            )

        wait_until(serving, 60, 0.1, 'every API process serving')
        yield f'http://127.0.0.1:{port}', procs
    finally:
        for proc in procs.values():
            stop_process(proc)


@pytest.mark.ros
async def test_api_process_and_dispatcher_killed_mid_rush(
    redis_url: str, aredis: Redis, tmp_path: Path, demo_config: RestaurantConfig
) -> None:
    planned = random_orders(demo_config, 60, seed=15)
    kitchen = kitchen_running(demo_config, tmp_path / 'kitchen', TIME_SCALE, PICKUP_TIMEOUT_S)
    with kitchen as k, orchestrators(redis_url, tmp_path, demo_config, 2, 2) as (url, procs):
        await wait_for(lambda: robots_heard(aredis, demo_config), 90, what='robots')
        async with httpx.AsyncClient(base_url=url, timeout=20) as client:
            diners = Diners(client, aredis, settings_for(redis_url), demo_config)
            picker = asyncio.create_task(diners.pick_up())
            try:
                stream = asyncio.create_task(_stream(diners, planned))
                await wait_for(lambda: _in_and_cooking(diners, 20), 120, what='a rush under way')
                for name in ('orchestrator-2', 'dispatcher-1'):
                    procs[name].send_signal(signal.SIGKILL)
                    procs[name].wait()
                # Live streams on whichever process a new connection reaches (the survivor).
                follow = [
                    asyncio.create_task(_follow(url, diners, order_id))
                    for order_id in list(diners.orders)[:5]
                ]
                placed = await stream
                assert len(placed) == len(planned), diners.refused
                await wait_for(lambda: diners.all_in('served'), 300, 0.2, 'all orders served')
                for events in await asyncio.gather(*follow):
                    assert [e['status'] for e in events if e['status']][-1] == 'served', events
            finally:
                picker.cancel()
        await assert_cooked_once(k, diners)
        await wait_for(lambda: _settled(aredis, demo_config), 60, 0.2, 'nothing pending')


async def _follow(url: str, diners: Diners, order_id: str) -> list[dict[str, object]]:
    """The order's SSE stream on a connection of its own, until it ends."""
    async with httpx.AsyncClient(base_url=url) as client:
        return await sse_events(client, diners.token(diners.orders[order_id]), order_id)
