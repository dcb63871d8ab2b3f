"""Serving robots' batteries: the model alone, then real robot processes over DDS and a real
`robodine dispatcher` on a restaurant whose robots drain fast: a robot that runs low after a
trip goes to its charger (mode `charging`, announced on the console), and the next trip goes to
a robot with the charge for it — not to an idle one that is short of it."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.exceptions
from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.bringup import traffic_controller_command
from orchestrator.config import Battery, RestaurantConfig, load_restaurant
from orchestrator.dispatch.serving import trip_charge
from orchestrator.rush.diners import SimClock
from orchestrator.rush.report import charging_time
from orchestrator.store import feed, orders
from robot_nodes.drivers.battery import SimBattery
from tests.api_helpers import config_with
from tests.dispatch_support import Kitchen, ensure_groups, wait_for, write_order
from tests.ros_helpers import keys_for, ros_child_env, stop_process

TIME_SCALE = 20.0
TABLE = 't05'
# 1 % of a charge per metre: one trip to t05 and back takes about 30 %.
FAST = {'drain_per_km': 10.0, 'low': 0.3, 'charged': 0.95, 'charge_per_h': 0.5}


def test_battery_model() -> None:
    model = Battery(drain_per_km=1.0, drain_per_h=0.36, charge_per_h=0.5, low=0.2, charged=0.9)
    battery = SimBattery(model, 0.5)
    battery.update(100.0, 10.0, charging=False)  # 0.1 driven + 0.001 switched on
    assert battery.level == pytest.approx(0.399)
    battery.update(0.0, 3600.0, charging=True)
    assert battery.level == pytest.approx(0.899) and not battery.charged
    battery.update(0.0, 7200.0, charging=True)
    assert battery.level == 1.0 and battery.charged
    with pytest.raises(ValueError, match=r'battery\.charged'):
        Battery(low=0.5, charged=0.4)


def test_trip_charge_covers_the_way_back_to_the_charger(demo_config: RestaurantConfig) -> None:
    cfg = demo_config
    serve1 = cfg.serving_robots[0]
    at_pass = (cfg.floor.pass_point.x, cfg.floor.pass_point.y)
    near, far = (trip_charge(cfg, serve1, at_pass, [t]) for t in ('t02', 't16'))
    assert 0 < near < far
    # Pass -> t16 -> pass -> charger, and the whole pickup wait.
    floor = cfg.floor
    route = ['pass', 'stop-t16', 'pass', cfg.charger_of(serve1)]
    metres = sum(floor.path_length(floor.path(a, b)) for a, b in itertools.pairwise(route))
    seconds = metres / serve1.speed_mps + cfg.service.pickup_timeout_s
    assert far == pytest.approx(cfg.battery.used(metres, seconds))
    assert cfg.charger_of(serve1) == 'chg1'


async def test_rush_report_charging_time(redis_url: str, demo_config: RestaurantConfig) -> None:
    """Charging time per serving robot from its mode changes on the feed, in simulated s."""
    # A database of its own: robots of a module-scoped kitchen may still be heard on db 0.
    aredis = Redis.from_url(redis_url.rsplit('/', 1)[0] + '/9', decode_responses=True)
    await aredis.flushdb()
    # A whole second: its milliseconds are exact (a fraction's, truncated, showed x60 in CI).
    clock = SimClock(speed=60.0, start=float(int(time.time()) - 100))
    at = int(clock.start * 1000)
    changes = [('serve1', 'charging', 10), ('serve1', 'charging', 12), ('serve1', 'idle', 20)]
    changes += [('serve2', 'busy', 30), ('serve2', 'charging', 50), ('wok1', 'charging', 5)]
    async with aredis.pipeline(transaction=True) as pipe:
        for robot_id, mode, s in changes:
            feed.add_event(
                pipe, 'robot.state', {'robot_id': robot_id, 'mode': mode}, at + s * 1000
            )
        await pipe.execute()
    out = await charging_time(aredis, demo_config, clock, span_s=90 * 60.0)
    assert out['serve1'] == {'charges': 1, 'charging_s': 600.0}
    assert out['serve2'] == {'charges': 1, 'charging_s': 40 * 60.0}
    assert out['serve3'] == {'charges': 0, 'charging_s': 0.0}
    await aredis.aclose()


@pytest.fixture(scope='module')
def fast_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    change: dict[str, object] = {f'battery.{name}': value for name, value in FAST.items()}
    return config_with(tmp_path_factory.mktemp('config'), change)


def _needs(cfg: RestaurantConfig, robot_id: str) -> float:
    """Charge the dispatcher asks of a robot on its dock for a trip to TABLE."""
    robot = next(s for s in cfg.serving_robots if s.id == robot_id)
    dock = cfg.floor.points[robot.dock]
    return trip_charge(cfg, robot, (dock.x, dock.y), [TABLE]) + cfg.battery.reserve


@pytest.fixture(scope='module')
def fleet(tmp_path_factory: pytest.TempPathFactory, fast_config: Path) -> Iterator[Kitchen]:
    cfg = load_restaurant(fast_config)
    # serve1 can make one trip and is low after it; serve2 is above `low` (so it does not go
    # to charge) but short of a trip; serve3 is full.
    start = {
        'serve1': _needs(cfg, 'serve1') + 0.05,
        'serve2': (cfg.battery.low + _needs(cfg, 'serve2')) / 2,
        'serve3': 1.0,
    }
    assert cfg.battery.low < start['serve2'] < _needs(cfg, 'serve2')
    kitchen = Kitchen(
        cfg,
        tmp_path_factory.mktemp('kitchen'),
        TIME_SCALE,
        robot_params={rid: {'battery_start': level} for rid, level in start.items()},
        config_path=fast_config,
    )
    # Two robots go to neighbouring chargers in the chargers' one-lane corner: under traffic
    # control, as a floor like this one needs (README "Traffic in the aisles").
    env = {**ros_child_env(), 'ROBODINE_TRAFFIC_CONTROL': 'true'}
    keys = keys_for(kitchen.robot_ids())
    controller = subprocess.Popen(
        traffic_controller_command(fast_config, TIME_SCALE, keys), env=env
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv('ROBODINE_TRAFFIC_CONTROL', 'true')
        for robot_id in ('bar1', *start):
            kitchen.start_robot(robot_id)
    try:
        yield kitchen
    finally:
        kitchen.stop()
        stop_process(controller)


async def _robot(r: Redis, robot_id: str) -> dict[str, Any]:
    return dict(await r.hgetall(keys.robot(robot_id)))


async def _confirm_pickups(r: Redis, order_ids: list[str]) -> None:
    """The diners take their food as soon as it arrives."""
    asked: set[str] = set()
    while True:
        with contextlib.suppress(redis.exceptions.RedisError, orders.PickupRefused):
            for order_id in order_ids:
                if order_id not in asked and await r.hget(keys.order(order_id), 'status') == (
                    'arrived'
                ):
                    asked.add(order_id)
                    await orders.request_pickup(r, TABLE, order_id)
        await asyncio.sleep(0.05)


async def _served_by(r: Redis, order_id: str) -> str | None:
    for _, f in await r.xrange(keys.order_events(order_id)):
        if f['type'] == 'delivery.served':
            return str(json.loads(f['data'])['robot_id'])
    return None


@pytest.mark.ros
async def test_low_robot_charges_and_the_next_trip_goes_elsewhere(
    fleet: Kitchen, redis_url: str, aredis: Redis
) -> None:
    r, cfg = aredis, fleet.cfg
    await ensure_groups(r, cfg)
    fleet.start_dispatcher(redis_url)
    placed: list[str] = []
    picker = asyncio.create_task(_confirm_pickups(r, placed))
    try:

        async def all_heard() -> bool:
            states = [await _robot(r, i) for i in ('bar1', 'serve1', 'serve2', 'serve3')]
            return all(s.get('mode') == 'idle' for s in states)

        await wait_for(all_heard, 90, what='every robot idle')
        # And every serving robot's action server discovered: beside a CPU hog, serve3's
        # came first once, and the first trip went to the only robot the dispatcher could
        # reach.
        for robot_id in ('serve1', 'serve2', 'serve3'):
            reachable = fleet.logged_by(['disp1'], f'{robot_id} reachable')
            await wait_for(reachable, 60, what=f'{robot_id} reachable')
        # The robots report their real charge.
        assert float((await _robot(r, 'serve2'))['battery']) < cfg.battery.low + 0.1

        first, _ = await write_order(r, cfg, TABLE, [('iced-tea', 1)])
        placed.append(first)
        assert await wait_for(lambda: _served_by(r, first), 60, what='first served') == 'serve1'

        async def charging() -> dict[str, Any]:
            state = await _robot(r, 'serve1')
            return state if state.get('mode') == 'charging' else {}

        state = await wait_for(charging, 30, what='serve1 charging')
        assert float(state['battery']) < cfg.battery.low, state
        assert 'chg1' in state['detail'], state

        async def announced() -> list[dict[str, str]]:
            return [
                f
                for _, f in await r.xrange(keys.ALERTS)
                if f['kind'] == 'robot_charging' and f['robot_id'] == 'serve1'
            ]

        await wait_for(announced, 10, what='the console told')

        second, _ = await write_order(r, cfg, TABLE, [('iced-tea', 1)])
        placed.append(second)
        assert await wait_for(lambda: _served_by(r, second), 60, what='second served') == 'serve3'

        # serve1 is on its charger meanwhile, filling up.
        async def on_charger() -> dict[str, Any]:
            state = await _robot(r, 'serve1')
            return state if 'on chg1' in state['detail'] else {}

        docked = await wait_for(on_charger, 30, what='serve1 on its charger')

        async def filling() -> bool:
            state = await _robot(r, 'serve1')
            return state['mode'] == 'charging' and float(state['battery']) > float(
                docked['battery']
            )

        await wait_for(filling, 30, what='serve1 charging up')
    finally:
        picker.cancel()
        fleet.stop_dispatchers()
