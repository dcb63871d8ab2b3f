"""`robodine up`: the whole restaurant from one command, and nothing left behind on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from orchestrator.config import RestaurantConfig
from orchestrator.redis_server import free_port
from orchestrator.store import alerts, robots
from tests.ros_helpers import start_nav2_standin, stop_process, wait_until

pytestmark = pytest.mark.ros
REPO = Path(__file__).resolve().parent.parent


def children_of(pid: int) -> set[int]:
    """Direct children of `pid`, from /proc."""
    out = set()
    for entry in Path('/proc').iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / 'stat').read_text()
            except OSError:
                continue
            if int(stat.rsplit(')', 1)[1].split()[1]) == pid:
                out.add(int(entry.name))
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()[0]
    except OSError:
        return False
    return state != 'Z'


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f'/proc/{pid}/cmdline').read_text().split('\0')
    except OSError:
        return []


def child_running(up_pid: int, marker: str) -> int | None:
    """The pid of `robodine up`'s live child whose argv holds `marker`."""
    return next((p for p in children_of(up_pid) if alive(p) and marker in cmdline(p)), None)


@contextlib.contextmanager
def robodine_up(
    tmp_path: Path, *args: str
) -> Iterator[tuple[subprocess.Popen[str], list[str], int]]:
    """`robodine up` at time scale 50, until it printed that it is ready: (process, its output
    lines so far, its port). Leaving the block SIGTERMs it and checks that it exits 0 with
    none of its children left."""
    port = free_port()
    # The demo as it comes: its own Redis, and the config's traffic control (on).
    dropped = ('REDIS_URL', 'ROBODINE_BASE_URL', 'ROBODINE_TRAFFIC_CONTROL')
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    proc = subprocess.Popen(
        [
            sys.executable,
            '-m',
            'orchestrator.cli',
            'up',
            '--port',
            str(port),
            '--time-scale',
            '50',
            '--data-dir',
            str(tmp_path / 'var'),
            *args,
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(
        target=lambda: lines.extend(iter(proc.stdout.readline, '')) if proc.stdout else None,
        daemon=True,
    )
    reader.start()
    children: set[int] = set()
    try:
        wait_until(
            lambda: any('Ctrl-C' in line for line in lines) or proc.poll() is not None,
            120,
            0.1,
            'robodine up ready',
        )
        assert proc.poll() is None, ''.join(lines)
        yield proc, lines, port
    finally:
        children = children_of(proc.pid)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, ''.join(lines)
    assert not [pid for pid in children if alive(pid)]


def test_up_prints_urls_serves_and_stops_cleanly(tmp_path: Path) -> None:
    with robodine_up(tmp_path) as (proc, lines, port):
        out = ''.join(lines)
        diner_urls = re.findall(rf'http://127\.0\.0\.1:{port}/t/\S+', out)
        assert len(diner_urls) == 16, out
        assert f'http://127.0.0.1:{port}/console' in out
        # The demo prints a first manager account, and it signs in to the console.
        account = re.search(r"sign in as '(\S+)', password '(\S+)'", out)
        assert account, out
        name, password = account.groups()
        login = httpx.post(
            f'http://127.0.0.1:{port}/console/api/login',
            json={'name': name, 'password': password},
            timeout=10,
        )
        assert login.status_code == 200, login.text
        assert httpx.get(diner_urls[0], timeout=10, follow_redirects=True).status_code == 200
        # Redis, the orchestrator, the 8 robots of the demo, the floor monitor and (the demo
        # has traffic control) the traffic controller.
        assert len(children_of(proc.pid)) >= 12, out
        assert child_running(proc.pid, 'robot_nodes.traffic_controller'), out
        logs = {p.name for p in (tmp_path / 'var' / 'logs').iterdir()}
        assert {'orchestrator.log', 'wok1.log', 'serve3.log', 'traffic_controller.log'} <= logs


def restart_alerts(redis_url: str) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        r = Redis.from_url(redis_url, decode_responses=True)
        try:
            return [a for a in await alerts.recent(r) if a['kind'] == 'process_restarted']
        finally:
            await r.aclose()

    return asyncio.run(read())


def ready(port: int) -> bool:
    try:
        return httpx.get(f'http://127.0.0.1:{port}/readyz', timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_up_restarts_a_dead_robot_or_orchestrator_and_keeps_serving(tmp_path: Path) -> None:
    with robodine_up(tmp_path) as (proc, lines, port):
        match = re.search(r'ready\. Redis (\S+)', ''.join(lines))
        assert match, ''.join(lines)
        redis_url = match.group(1)

        wok1 = child_running(proc.pid, 'robot_id:=wok1')
        assert wok1 is not None
        os.kill(wok1, signal.SIGKILL)
        # Started again (a new process), said on the console, and the API never went away.
        alert = wait_until(
            lambda: [a for a in restart_alerts(redis_url) if a.get('robot_id') == 'wok1'],
            60,
            0.2,
            'the wok1 restart alert',
        )[0]
        assert 'SIGKILL' in alert['message'], alert
        assert httpx.get(f'http://127.0.0.1:{port}/api/menu', timeout=10).status_code == 200
        assert wait_until(lambda: child_running(proc.pid, 'robot_id:=wok1'), 30, 0.2) != wok1

        orchestrator = child_running(proc.pid, 'serve')
        assert orchestrator is not None
        os.kill(orchestrator, signal.SIGKILL)
        wait_until(lambda: not ready(port), 30, 0.1, 'the API down')
        wait_until(lambda: ready(port), 90, 0.2, '/readyz answering again')
        kinds = [a['message'] for a in restart_alerts(redis_url)]
        assert any(m.startswith('orchestrator was killed by SIGKILL') for m in kinds), kinds
        assert proc.poll() is None


def test_up_leaves_an_external_robot_to_the_integrator(tmp_path: Path) -> None:
    """`--external serve3`: every other robot starts, serve3 does not; the printed command
    starts it (as on the integrator's machine), and the dispatcher hears it."""
    bad = subprocess.run(
        [sys.executable, '-m', 'orchestrator.cli', 'up', '--external', 'serve9'],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and '--external: no robot serve9' in bad.stderr, bad.stderr
    with robodine_up(tmp_path, '--external', 'serve3') as (proc, lines, _port):
        out = ''.join(lines)
        assert child_running(proc.pid, 'robot_id:=serve3') is None, out
        assert child_running(proc.pid, 'robot_id:=serve2') is not None, out
        (command,) = [ln.strip() for ln in lines if 'robot_id:=serve3' in ln]
        assert 'ROS_DOMAIN_ID=' in command and 'key_file:=' in command, command
        match = re.search(r'ready\. Redis (\S+)', out)
        assert match, out

        def serve3_mode() -> str | None:
            async def read() -> str | None:
                r = Redis.from_url(match.group(1), decode_responses=True)
                try:
                    state = await robots.get(r, 'serve3')
                    return state.mode if state else None
                finally:
                    await r.aclose()

            return asyncio.run(read())

        assert serve3_mode() is None
        robot = subprocess.Popen(command, shell=True, cwd=REPO, start_new_session=True)
        try:
            assert wait_until(serve3_mode, 60, 0.2, 'serve3 heard') == 'idle'
        finally:
            os.killpg(robot.pid, signal.SIGTERM)
            robot.wait(timeout=30)


def test_up_with_the_nav2_driver_serves_through_each_robots_nav2(
    tmp_path: Path, demo_config: RestaurantConfig
) -> None:
    """`--driver nav2`: every serving robot drives through the Nav2 in its namespace (here the
    tests' NavigateToPose stand-in, one per robot, started first as the integrator's would be),
    and a diner's order reaches the table and is taken."""
    standins = [
        start_nav2_standin(
            s.id,
            (demo_config.floor.points[s.dock].x, demo_config.floor.points[s.dock].y),
            50.0,
            tmp_path / f'nav2-{s.id}.log',
        )
        for s in demo_config.serving_robots
    ]
    try:
        with robodine_up(tmp_path, '--driver', 'nav2') as (proc, lines, port):
            out = ''.join(lines)
            assert 'nav2 driver' in out and child_running(proc.pid, 'driver:=nav2'), out
            assert child_running(proc.pid, 'robot_nodes.floor_monitor') is None, out
            printed = re.search(rf'http://127\.0\.0\.1:{port}/t/\S+', out)
            assert printed, out
            with httpx.Client(base_url=f'http://127.0.0.1:{port}', timeout=10) as c:
                visit = c.get(printed.group(0), follow_redirects=False)
                assert visit.status_code == 303, visit.text
                base = f'/api/tables/{visit.headers["location"].rsplit("/", 1)[1]}/orders'
                placed = c.post(
                    base,
                    json={'items': [{'dish_id': 'iced-tea', 'quantity': 1}]},
                    headers={'Idempotency-Key': 'nav2-up-1'},
                )
                assert placed.status_code == 201, placed.text
                order = f'{base}/{placed.json()["id"]}'

                def status() -> str:
                    return str(c.get(order).json()['status'])

                wait_until(lambda: status() == 'arrived', 120, 0.2, 'the food at the table')
                assert c.post(f'{order}/pickup').status_code == 202
                wait_until(lambda: status() == 'served', 30, 0.2, 'the food taken')
    finally:
        for standin in standins:
            stop_process(standin)
