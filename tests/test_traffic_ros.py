"""Traffic control with real processes over DDS: the traffic controller, two serving robots
and (for `diffdrive`) the floor plant, on a floor whose only short way between its two sides is
one 0.9 m lane. Both robots start low on charge, and each one's charger is at the far end of the
lane from its dock: they drive into the lane from opposite sides at the same moment."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from restaurant_interfaces.msg import DeliveryStop, RobotState
from std_msgs.msg import String

from orchestrator.bringup import (
    floor_monitor_command,
    floor_plant_command,
    traffic_controller_command,
)
from orchestrator.config import load_restaurant
from orchestrator.settings import DEFAULT_CONFIG
from orchestrator.traffic import TrafficMap
from robot_nodes.floor_plant import COLLISIONS_TOPIC
from robot_nodes.ros_network import latched
from robot_nodes.traffic_controller import STATS_TOPIC
from tests.ros_helpers import (
    RosClient,
    keys_for,
    ros_child_env,
    ros_client_fixture,
    start_robot_process,
    stop_process,
    wait_until,
)

pytestmark = pytest.mark.ros
SCALE = 10.0
ROBOTS = {'west': ('dockw', 'chge'), 'east': ('docke', 'chgw')}
CHARGING = RobotState.MODE_CHARGING


def lane_restaurant(tmp: Path, **service: Any) -> Path:
    """The demo restaurant on a floor of two sides joined by a north corridor (wide) and, the
    short way, one narrow lane with a table in its middle; `service` overrides its knobs."""
    data = yaml.safe_load(Path(DEFAULT_CONFIG).read_text())
    points = {
        'pass': (6, 7, 'pass'),
        'n1': (2, 5, 'junction'),
        'nm': (6, 5, 'junction'),
        'n2': (10, 5, 'junction'),
        'wj': (2, 3, 'junction'),
        'ej': (10, 3, 'junction'),
        'lw': (4, 3, 'junction'),
        'mid': (6, 3, 'table'),
        'le': (8, 3, 'junction'),
        'dockw': (0.6, 3, 'dock'),
        'docke': (11.4, 3, 'dock'),
        'chgw': (2, 1.5, 'charger'),
        'chge': (10, 1.5, 'charger'),
    }
    wide = [('pass', 'nm'), ('n1', 'nm'), ('nm', 'n2'), ('n1', 'wj'), ('n2', 'ej')]
    wide += [('dockw', 'wj'), ('docke', 'ej'), ('wj', 'chgw'), ('ej', 'chge')]
    narrow = [('wj', 'lw'), ('lw', 'mid'), ('mid', 'le'), ('le', 'ej')]
    data['floor'] = {
        'width_m': 12.0,
        'depth_m': 8.0,
        'min_aisle_m': 0.7,
        'waypoints': [
            {'id': k, 'x': x, 'y': y, 'kind': kind} for k, (x, y, kind) in points.items()
        ],
        'aisles': [{'a': a, 'b': b, 'width_m': 1.5} for a, b in wide]
        + [{'a': a, 'b': b, 'width_m': 0.9} for a, b in narrow],
        'walls': [],
    }
    data['tables'] = [
        {'id': 't01', 'name': 'Table 1', 'seats': 4, 'x': 6.0, 'y': 2.2, 'waypoint': 'mid'}
    ]
    robot = dict(data['serving_robots'][0])
    data['serving_robots'] = [
        {**robot, 'id': rid, 'dock': dock, 'charger': charger}
        for rid, (dock, charger) in ROBOTS.items()
    ]
    data['service'].update(traffic_control=True, **service)
    path = tmp / 'lane.yaml'
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    cfg = load_restaurant(path)
    # Each robot's way to its charger is the lane, not the corridor.
    assert 'mid' in cfg.floor.path('dockw', 'chge') and 'mid' in cfg.floor.path('docke', 'chgw')
    return path


@pytest.fixture
def ros() -> Iterator[RosClient]:
    yield from ros_client_fixture('traffic_test')


@dataclass
class Floor:
    """What the floor reports while a test runs: collisions and the traffic figures."""

    collisions: list[dict[str, Any]] = field(default_factory=list)
    stats: list[dict[str, Any]] = field(default_factory=list)

    def last_stats(self) -> dict[str, Any]:
        wait_until(lambda: bool(self.stats), 10, what='traffic figures')
        return self.stats[-1]


def watch_floor(ros: RosClient, config: Path, driver: str) -> tuple[Floor, subprocess.Popen]:
    """Listen to the floor, and start what finds collisions: the floor plant for `diffdrive`,
    else the floor monitor (the sim driver's collisions are found in the robots' poses)."""
    floor = Floor()
    ros.node.create_subscription(
        String, COLLISIONS_TOPIC, lambda m: floor.collisions.append(json.loads(m.data)), latched()
    )
    ros.node.create_subscription(
        String, STATS_TOPIC, lambda m: floor.stats.append(json.loads(m.data)), latched()
    )
    if driver == 'diffdrive':
        command = floor_plant_command(config, SCALE, list(ROBOTS))
    else:
        command = floor_monitor_command(config, SCALE)
    return floor, subprocess.Popen(command, env=ros_child_env())


def start_robot(tmp: Path, config: Path, robot_id: str, driver: str, battery: float) -> Any:
    params = {'driver': driver, 'battery_start': battery}
    keys = keys_for(ROBOTS)
    ledger = tmp / 'ledger'
    return start_robot_process('serving', robot_id, config, SCALE, ledger, params, None, keys)


def start_controller(config: Path) -> subprocess.Popen:
    return subprocess.Popen(
        traffic_controller_command(config, SCALE, keys_for(ROBOTS)), env=ros_child_env()
    )


def at(cfg: Any, waypoint: str, modes: tuple[int, ...] = ()) -> Callable[[RobotState], bool]:
    """A robot on `waypoint` (and in one of `modes`, if given)."""
    p = cfg.floor.points[waypoint]

    def there(s: RobotState) -> bool:
        on = abs(s.x - p.x) < 0.15 and abs(s.y - p.y) < 0.15
        return on and (not modes or s.mode in modes)

    return there


@pytest.mark.parametrize('driver', ['sim', 'diffdrive'])
def test_two_robots_meet_in_a_lane_one_waits_both_arrive(
    tmp_path: Path, ros: RosClient, driver: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv('ROBODINE_TRAFFIC_CONTROL', 'true')
    # (No detour helps the one that waits: the way round ends at the junction the other one
    # holds until it is out of the lane.)
    config = lane_restaurant(tmp_path)
    cfg = load_restaurant(config)
    floor, watcher = watch_floor(ros, config, driver)
    procs: list[subprocess.Popen[bytes]] = [watcher]
    try:
        for robot_id in ROBOTS:
            procs.append(start_robot(tmp_path, config, robot_id, driver, 0.1))
        # No controller yet: each robot waits where it may (its dock: the dock's aisle is too
        # short to wait on clear of the corridor's lanes; else short of the junction) — a busy
        # machine may start one robot seconds after the other; started now, the controller
        # hears both ask for the lane at once.
        tmap = TrafficMap.of_restaurant(cfg)
        for robot_id, (dock, charger) in ROBOTS.items():
            route = cfg.floor.path(dock, charger)
            p = cfg.floor.points[dock]
            hx, hy = tmap.hold_point(route, 0) if tmap.holdable(*route[:2]) else (p.x, p.y)

            def holding(s: RobotState, hx: float = hx, hy: float = hy) -> bool:
                return abs(s.x - hx) < 0.15 and abs(s.y - hy) < 0.15

            ros.wait_for_state(robot_id, holding, timeout=120)
        procs.append(start_controller(config))
        for robot_id, (_, charger) in ROBOTS.items():
            ros.wait_for_state(robot_id, at(cfg, charger, (CHARGING,)), timeout=120)
        last = floor.last_stats()
        # Nobody was stuck and no two held one resource (whether they met depends on when each
        # robot discovered the controller: usually one is refused the lane and waits).
        assert last['deadlocks'] == 0 and last['conflicts'] == 0
        assert floor.collisions == []
    finally:
        for proc in reversed(procs):
            stop_process(proc)


@pytest.mark.parametrize('driver', ['sim', 'diffdrive'])
def test_a_robot_goes_round_a_lane_held_by_one_serving_a_table(
    tmp_path: Path, ros: RosClient, driver: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # west waits at the table in the middle of the lane for a pickup that does not come; east,
    # low on charge, must cross to its charger: the lane is held, so after a short wait the
    # controller sends it round by the north corridor, 4 m longer.
    monkeypatch.setenv('ROBODINE_TRAFFIC_CONTROL', 'true')
    config = lane_restaurant(tmp_path, traffic_replan_after_s=3, pickup_timeout_s=3600)
    cfg = load_restaurant(config)
    floor, watcher = watch_floor(ros, config, driver)
    procs: list[subprocess.Popen[bytes]] = [watcher, start_controller(config)]
    try:
        procs.append(start_robot(tmp_path, config, 'west', driver, 1.0))
        ros.wait_for_state('west', at(cfg, 'dockw', (RobotState.MODE_IDLE,)), timeout=60)
        trip = ros.deliver('west', 'trip-lane', [DeliveryStop(table_id='t01', trays=[0])])
        assert trip.is_accepted()
        ros.wait_for_state('west', at(cfg, 'mid'), timeout=120)
        east = ros.watch_state('east')
        procs.append(start_robot(tmp_path, config, 'east', driver, 0.1))
        ros.wait_for_state('east', at(cfg, 'chgw', (CHARGING,)), timeout=120)
        # It never set a wheel in the lane, and west is still at the table.
        lane = [(s.x, s.y) for _, s in east.snapshot() if 3.0 < s.x < 9.0 and s.y < 4.0]
        assert lane == []
        assert at(cfg, 'mid')(ros.wait_for_state('west'))
        last = floor.last_stats()
        assert last['robots']['east']['replans'] == 1 and last['replans'] == 1
        assert last['deadlocks'] == 0 and last['conflicts'] == 0
        assert floor.collisions == []
    finally:
        for proc in reversed(procs):
            stop_process(proc)
