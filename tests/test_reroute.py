"""Re-route end to end with the real processes: the API (the operator closes aisles through
the console's HTTP API), a dispatcher, the traffic controller, a sim serving robot and the bar's
cooking robot over DDS, and a real Redis. The floor is a loop with the table `t01` on its south
side (the short way east, a longer way west) and a dead end to `t02` off its south-east
corner. Also: the controller takes closures only signed by every serving robot's key."""

from __future__ import annotations

import json
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from redis.asyncio import Redis
from restaurant_interfaces.msg import Closures as ClosuresMsg

from orchestrator import closures
from orchestrator import redis_keys as keys
from orchestrator.config import Waypoint, load_restaurant
from orchestrator.store import alerts, orders, robots
from robot_nodes import auth
from robot_nodes.ros_network import latched
from tests.api_helpers import wait_until
from tests.console_support import sign_in
from tests.dispatch_support import Diners, Kitchen, kitchen_running, restaurant_open, wait_for
from tests.ros_helpers import RosClient, keys_for, stop_process, wait_for_log
from tests.test_traffic_ros import SCALE, Points, restaurant_on, start_controller

pytestmark = pytest.mark.ros
KIND = 'robot_at_closure'
EAST = 'ne~se'  # the short way to t01
T02_LANE = 'se~t2'  # the only way to t02


def loop_restaurant(tmp: Path) -> Path:
    points: Points = {
        'pass': (6, 9.4, 'pass'),
        'n': (6, 8, 'junction'),
        'nw': (2, 8, 'junction'),
        'ne': (9, 8, 'junction'),
        'sw': (2, 4, 'junction'),
        'se': (9, 4, 'junction'),
        't1': (6, 4, 'table'),
        't2': (9, 1.6, 'table'),
        'dock1': (0.6, 8, 'dock'),
        'chg1': (0.6, 4, 'charger'),
    }
    wide = [('pass', 'n'), ('n', 'nw'), ('n', 'ne'), ('nw', 'sw'), ('ne', 'se')]
    wide += [('sw', 't1'), ('t1', 'se'), ('se', 't2'), ('nw', 'dock1'), ('sw', 'chg1')]
    path = restaurant_on(tmp, points, {1.5: wide}, ['t1', 't2'], {'serve1': ('dock1', 'chg1')})
    # The bar alone cooks (drinks): one cooking robot process.
    data = yaml.safe_load(path.read_text())
    bar = next(c for c in data['cooking_robots'] if c['id'] == 'bar1')
    data['cooking_robots'] = [bar]
    data['stations'] = [s for s in data['stations'] if s['id'] in bar['stations']]
    data['dishes'] = [d for d in data['dishes'] if d['station'] in bar['stations']]
    kept = {d['id'] for d in data['dishes']}
    data['recipes'] = [r for r in data.get('recipes', []) if r['dish'] in kept]
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    floor = load_restaurant(path).floor
    assert 'ne' in floor.path('pass', 't1') and 'se' in floor.path('pass', 't2')
    return path


@pytest.fixture
def traffic_control(monkeypatch: pytest.MonkeyPatch) -> None:
    """The robots ask the traffic controller, and the API lets the operator close aisles."""
    monkeypatch.setenv('ROBODINE_TRAFFIC_CONTROL', 'true')


@pytest.fixture
def fleet(tmp_path: Path, traffic_control: None) -> Iterator[Kitchen]:
    config = loop_restaurant(tmp_path)
    with kitchen_running(load_restaurant(config), tmp_path, SCALE, 600, config_path=config) as k:
        yield k


@pytest.fixture
def controller(fleet: Kitchen) -> Iterator[list[subprocess.Popen[bytes]]]:
    """The traffic controller (a list: a test restarts it)."""
    procs = [start_controller(fleet.config_path)]
    yield procs
    for proc in procs:
        stop_process(proc)


@pytest.fixture
async def operator(
    fleet: Kitchen, controller: list[subprocess.Popen[bytes]], redis_url: str, aredis: Redis
) -> AsyncIterator[tuple[httpx.AsyncClient, Diners]]:
    """The API and a dispatcher up, the robots heard; an operator signed in on the console."""
    async with (
        restaurant_open(fleet, redis_url, aredis, fleet.tmp) as (url, diners),
        httpx.AsyncClient(base_url=url, timeout=20) as client,
    ):
        client.headers['X-CSRF-Token'] = await sign_in(client, aredis)
        yield client, diners


async def change(client: httpx.AsyncClient, closure: str, command: str) -> None:
    a, b = closure.split('~')
    res = await client.post(f'/console/api/floor/aisles/{a}/{b}/{command}')
    assert res.status_code == 200, res.text


async def test_the_robot_drives_round_a_closed_aisle_and_a_cut_off_table_waits(
    fleet: Kitchen,
    controller: list[subprocess.Popen[bytes]],
    operator: tuple[httpx.AsyncClient, Diners],
    aredis: Redis,
) -> None:
    client, diners = operator
    floor = fleet.cfg.floor
    await change(client, EAST, 'close')
    await change(client, T02_LANE, 'close')
    # A controller started after the closures gets them (latched, and sent again).
    stop_process(controller[0])
    controller.append(start_controller(fleet.config_path))
    log = fleet.config_path.parent / 'controller.log'

    async def controllers_told() -> bool:
        starts = log.read_text().split('traffic controller: ')
        return len(starts) == 3 and f'closed: {EAST}, {T02_LANE}' in starts[-1]

    await wait_for(controllers_told, 30, what='the restarted controller told')
    await wait_for(fleet.logged_by(fleet.dispatchers, 'orders wait at the pass'), 30)

    cut_off = await diners.order('t02', [('sikhye', 1)])
    assert cut_off is not None
    await wait_for(lambda: _status(aredis, cut_off, orders.READY), 60, what='t02 ready')
    snap = (await client.get('/console/api/snapshot')).json()
    assert snap['unreachable'] == {'t02': T02_LANE}

    # t01's order, placed after, goes the long way round and is served; t02's stays.
    served = await diners.order('t01', [('sikhye', 1)])
    assert served is not None
    where: list[tuple[float, float]] = []

    async def served_t01() -> bool:
        state = await robots.get(aredis, 'serve1')
        if state is not None:
            where.append((state.x, state.y))
        return await _status(aredis, served, orders.SERVED)

    await wait_for(served_t01, 120, 0.05, 't01 served')
    robot_log = fleet.ledger_dir / 'serve1.log'
    assert 'round what is closed: pass n nw sw t1' in robot_log.read_text()
    # Never seen on the east side, south of the north corridor (poses are mirrored a few times
    # a second: this can miss a short visit, never invent one).
    south = floor.points['nw'].y - 0.5
    assert not any(x > floor.points['t1'].x + 1 and y < south for x, y in where), where
    waiting = await orders.get(aredis, cut_off)
    assert waiting is not None and (waiting.status, waiting.trip_id) == (orders.READY, '')

    # Reopened, t02's order goes. Its diner takes the food only once the lane is closed
    # again behind the robot: with no way round, it waits at the table before the closure, and
    # the console says so.
    diners.held.add(cut_off)
    await change(client, T02_LANE, 'reopen')
    await wait_for(lambda: _status(aredis, cut_off, orders.ARRIVED), 120, what='t02 arrived')
    await change(client, T02_LANE, 'close')
    await told(aredis, log, robot_log)
    diners.held.discard(cut_off)
    await wait_for(lambda: _status(aredis, cut_off, orders.SERVED), 60, what='t02 served')

    async def alerted() -> dict[str, Any] | None:
        return next((a for a in await alerts.recent(aredis) if a['kind'] == KIND), None)

    alert = await wait_for(alerted, 60, what='the robot_at_closure alert')
    assert alert is not None and alert['robot_id'] == 'serve1', alert
    assert T02_LANE in alert['message'], alert
    # Reopened: the way it waits to take home still crosses the east side, closed: the
    # controller sends it round at once.
    await change(client, T02_LANE, 'reopen')
    await wait_for(lambda: _at(aredis, 'serve1', floor.points['dock1']), 60, what='home')
    assert 'serve1 takes a detour: t2 se t1 sw nw dock1' in log.read_text()


async def told(r: Redis, *logs: Path) -> None:
    """Wait until the traffic controller and the robot (their `logs`) have the closures as they
    are in Redis now (the dispatcher sends them within a second)."""
    line = f'(version {json.loads(await r.get(keys.CLOSURES))["version"]})'

    async def all_told() -> bool:
        return all(line in log.read_text() for log in logs)

    await wait_for(all_told, 30, what=f'{line} in {logs}')


async def _at(r: Redis, robot_id: str, where: Waypoint) -> bool:
    state = await robots.get(r, robot_id)
    return state is not None and abs(state.x - where.x) + abs(state.y - where.y) < 0.3


async def _status(r: Redis, order_id: str, wanted: str) -> bool:
    record = await orders.get(r, order_id)
    return record is not None and record.status == wanted


def test_the_controller_takes_only_closures_signed_by_every_serving_robot(
    tmp_path: Path, traffic_control: None
) -> None:
    """Anyone on the domain can publish on the closures topic: a set the controller cannot
    verify, too long, not on its floor or older than the last is refused, and the last good set
    stays."""
    config = loop_restaurant(tmp_path)
    keys = [auth.load_key(auth.key_path(keys_for(['serve1']), 'serve1'))]
    log = config.parent / 'controller.log'
    controller = start_controller(config)
    client = RosClient('closures_test')
    try:
        pub = client.node.create_publisher(ClosuresMsg, closures.TOPIC, latched(depth=1))
        wait_until(lambda: pub.get_subscription_count() > 0, 20, what='the controller')

        def send(closed: list[str], version: int, signing: list[bytes] = keys) -> None:
            msg = ClosuresMsg(closed=closed, version=version, stamp_ns=auth.now_ns())
            pub.publish(auth.sign_by_all(signing, 'closures', msg))

        send([EAST], 1)
        wait_for_log(log, f'closed: {EAST} (version 1)')
        send([], 9, [bytes(32)])  # a key of its own
        wait_for_log(log, 'refused a closure list: bad MACs')
        send(['nowhere'], 10)
        wait_for_log(log, "not on this floor: no_waypoint: {'waypoint': 'nowhere'}")
        send(['n'] * (closures.MAX_CLOSURES + 1), 11)
        wait_for_log(log, 'more than 64')
        send([], 0)  # older than the last taken: dropped
        send([EAST, T02_LANE], 2)
        wait_for_log(log, f'closed: {EAST}, {T02_LANE} (version 2)')
        assert 'closed: nothing' not in log.read_text()
    finally:
        client.close()
        stop_process(controller)
