"""Traffic control with real processes over DDS: the traffic controller, two serving robots
and (for `diffdrive`) the floor plant or (for `nav2`) a Nav2 stand-in per robot, on a floor
whose only short way between its two sides is one 0.9 m lane. Both robots start low on charge,
and each one's charger is at the far end of the lane from its dock: they drive into the lane
from opposite sides at the same moment."""

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
    start_logged,
    start_nav2_standin,
    start_robot_process,
    stop_process,
    wait_until,
)

pytestmark = pytest.mark.ros
SCALE = 10.0
ROBOTS = {'west': ('dockw', 'chge'), 'east': ('docke', 'chgw')}
CROSSING = {'west': ('dockw', 'chge'), 'east': ('docke', 'chgw'), 'north': ('dockn', 'chgs')}
CHARGING = RobotState.MODE_CHARGING


Points = dict[str, tuple[float, float, str]]


def restaurant_on(
    tmp: Path,
    points: Points,
    aisles: dict[float, list[tuple[str, str]]],
    tables: list[str],
    robots: dict[str, tuple[str, str]],
    **service: Any,
) -> Path:
    """The demo restaurant on a floor of `points` joined by `aisles` (width -> aisles), with
    tables t01, t02, … at waypoints `tables` and serving `robots` (id -> dock, charger);
    traffic control on, `service` overriding its knobs."""
    data = yaml.safe_load(Path(DEFAULT_CONFIG).read_text())
    data['floor'] = {
        'width_m': 12.0,
        'depth_m': 10.0,
        'min_aisle_m': 0.7,
        'waypoints': [
            {'id': k, 'x': x, 'y': y, 'kind': kind} for k, (x, y, kind) in points.items()
        ],
        'aisles': [{'a': a, 'b': b, 'width_m': w} for w, ab in aisles.items() for a, b in ab],
        'walls': [],
    }
    data['tables'] = [
        {
            'id': f't{i:02}',
            'name': f'Table {i}',
            'seats': 4,
            'x': points[table][0],
            'y': points[table][1] - 0.8,
            'waypoint': table,
        }
        for i, table in enumerate(tables, 1)
    ]
    robot = dict(data['serving_robots'][0])
    data['serving_robots'] = [
        {**robot, 'id': rid, 'dock': dock, 'charger': charger}
        for rid, (dock, charger) in robots.items()
    ]
    data['service'].update(traffic_control=True, **service)
    path = tmp / 'floor.yaml'
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def lane_restaurant(tmp: Path, **service: Any) -> Path:
    """Two sides joined by a north corridor (wide) and, the short way, one narrow lane with a
    table in its middle."""
    points: Points = {
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
    path = restaurant_on(tmp, points, {1.5: wide, 0.9: narrow}, ['mid'], ROBOTS, **service)
    cfg = load_restaurant(path)
    # Each robot's way to its charger is the lane, not the corridor.
    assert 'mid' in cfg.floor.path('dockw', 'chge') and 'mid' in cfg.floor.path('docke', 'chgw')
    return path


def cross_restaurant(tmp: Path) -> Path:
    """Four wide arms meeting at one junction `x`, a dock at the end of three of them and a
    charger at the end of the arm across from each."""
    points: Points = {
        'pass': (6, 9.4, 'pass'),
        'n': (6, 8, 'junction'),
        'x': (6, 5, 'junction'),
        'w': (2, 5, 'junction'),
        'e': (10, 5, 'junction'),
        's': (6, 2, 'junction'),
        'tab': (4.6, 8, 'table'),
        'dockw': (0.6, 5, 'dock'),
        'docke': (11.4, 5, 'dock'),
        'dockn': (7.4, 8, 'dock'),
        'chgw': (2, 3.6, 'charger'),
        'chge': (10, 3.6, 'charger'),
        'chgs': (6, 0.6, 'charger'),
    }
    wide = [('pass', 'n'), ('n', 'x'), ('x', 'w'), ('x', 'e'), ('x', 's'), ('n', 'tab')]
    wide += [('w', 'dockw'), ('e', 'docke'), ('n', 'dockn')]
    wide += [('w', 'chgw'), ('e', 'chge'), ('s', 'chgs')]
    path = restaurant_on(tmp, points, {1.5: wide}, ['tab'], CROSSING)
    cfg = load_restaurant(path)
    assert all('x' in cfg.floor.path(dock, charger) for dock, charger in CROSSING.values())
    return path


@pytest.fixture(autouse=True)
def traffic_control(monkeypatch: pytest.MonkeyPatch) -> None:
    """The robots of these tests ask the traffic controller (the suite turns it off)."""
    monkeypatch.setenv('ROBODINE_TRAFFIC_CONTROL', 'true')


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
        command = floor_plant_command(config, SCALE, robot_ids(config))
    else:
        command = floor_monitor_command(config, SCALE)
    return floor, start_logged(command, config.parent / 'floor.log', ros_child_env())


def start_robot(tmp: Path, config: Path, robot_id: str, driver: str, battery: float) -> Any:
    params = {'driver': driver, 'battery_start': battery}
    keys = keys_for(robot_ids(config))
    ledger = tmp / 'ledger'
    return start_robot_process('serving', robot_id, config, SCALE, ledger, params, None, keys)


def start_nav2(config: Path, robot_id: str) -> subprocess.Popen:
    """The robot's Nav2 (the tests' stand-in), the robot on its dock."""
    cfg = load_restaurant(config)
    dock = cfg.floor.points[next(r.dock for r in cfg.serving_robots if r.id == robot_id)]
    log = config.parent / f'{robot_id}-nav2.log'
    return start_nav2_standin(robot_id, (dock.x, dock.y), SCALE, log)


def start_controller(config: Path) -> subprocess.Popen:
    command = traffic_controller_command(config, SCALE, keys_for(robot_ids(config)))
    return start_logged(command, config.parent / 'controller.log', ros_child_env())


def at(cfg: Any, waypoint: str, modes: tuple[int, ...] = ()) -> Callable[[RobotState], bool]:
    """A robot on `waypoint` (and in one of `modes`, if given)."""
    p = cfg.floor.points[waypoint]

    def there(s: RobotState) -> bool:
        on = abs(s.x - p.x) < 0.15 and abs(s.y - p.y) < 0.15
        return on and (not modes or s.mode in modes)

    return there


def robot_ids(config: Path) -> list[str]:
    return [r.id for r in load_restaurant(config).serving_robots]


def all_reach_their_chargers(tmp: Path, ros: RosClient, config: Path, driver: str) -> None:
    """Every serving robot starts on its dock low on charge and drives to its charger; the
    controller is started once each waits for its first grant, so it hears them all at once.
    All arrive: nobody stuck, no two holding one resource, no collision."""
    cfg = load_restaurant(config)
    legs = {r.id: (r.dock, r.charger or '') for r in cfg.serving_robots}
    floor, watcher = watch_floor(ros, config, driver)
    procs: list[subprocess.Popen[bytes]] = [watcher]
    try:
        for robot_id in legs:
            if driver == 'nav2':
                procs.append(start_nav2(config, robot_id))
            procs.append(start_robot(tmp, config, robot_id, driver, 0.1))
        # No controller yet: each robot waits where it may (its dock: the dock's aisle is too
        # short to wait on clear of the corridor's lanes; else short of the junction) — a busy
        # machine may start one robot seconds after the other.
        tmap = TrafficMap.of_restaurant(cfg)
        for robot_id, (dock, charger) in legs.items():
            route = cfg.floor.path(dock, charger)
            p = cfg.floor.points[dock]
            hx, hy = tmap.hold_point(route, 0) if tmap.holdable(*route[:2]) else (p.x, p.y)

            def holding(s: RobotState, hx: float = hx, hy: float = hy) -> bool:
                return abs(s.x - hx) < 0.15 and abs(s.y - hy) < 0.15

            ros.wait_for_state(robot_id, holding, timeout=120)
        procs.append(start_controller(config))
        for robot_id, (_, charger) in legs.items():
            ros.wait_for_state(robot_id, at(cfg, charger, (CHARGING,)), timeout=120)
        last = floor.last_stats()
        # Whether they met depends on when each robot discovered the controller (usually some
        # are refused and wait).
        assert last['deadlocks'] == 0 and last['conflicts'] == 0
        assert floor.collisions == [], floor.collisions
    finally:
        for proc in reversed(procs):
            stop_process(proc)


@pytest.mark.parametrize('driver', ['sim', 'diffdrive', 'nav2'])
def test_two_robots_meet_in_a_lane_one_waits_both_arrive(
    tmp_path: Path, ros: RosClient, driver: str
) -> None:
    # (No detour helps the one that waits: the way round ends at the junction the other one
    # holds until it is out of the lane.)
    all_reach_their_chargers(tmp_path, ros, lane_restaurant(tmp_path), driver)


@pytest.mark.parametrize('driver', ['sim', 'diffdrive'])
def test_three_robots_cross_at_one_junction(tmp_path: Path, ros: RosClient, driver: str) -> None:
    # Two head-on along the east-west arms (wide: they pass in their lanes) and one from the
    # north, all across `x` at once.
    all_reach_their_chargers(tmp_path, ros, cross_restaurant(tmp_path), driver)


@pytest.mark.parametrize('driver', ['sim', 'diffdrive'])
def test_a_robot_goes_round_a_lane_held_by_one_serving_a_table(
    tmp_path: Path, ros: RosClient, driver: str
) -> None:
    # west waits at the table in the middle of the lane for a pickup that does not come; east,
    # low on charge, must cross to its charger: the lane is held, so after a short wait the
    # controller sends it round by the north corridor, 4 m longer.
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
        assert floor.collisions == [], floor.collisions
    finally:
        for proc in reversed(procs):
            stop_process(proc)
