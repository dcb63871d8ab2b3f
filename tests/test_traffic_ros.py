"""Traffic control with real processes over DDS: the traffic controller, two serving robots
and (for `diffdrive`) the floor plant, on a floor whose only short way between its two sides is
one 0.9 m lane. Both robots start low on charge, and each one's charger is at the far end of the
lane from its dock: they drive into the lane from opposite sides at the same moment."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from restaurant_interfaces.msg import RobotState
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


def lane_restaurant(tmp: Path) -> Path:
    """The demo restaurant on a floor of two sides joined by a north corridor (wide) and, the
    short way, one narrow lane with a table in its middle."""
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
    data['service']['traffic_control'] = True
    path = tmp / 'lane.yaml'
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    cfg = load_restaurant(path)
    # Each robot's way to its charger is the lane, not the corridor.
    assert 'mid' in cfg.floor.path('dockw', 'chge') and 'mid' in cfg.floor.path('docke', 'chgw')
    return path


@pytest.fixture
def ros() -> Iterator[RosClient]:
    yield from ros_client_fixture('traffic_test')


@pytest.mark.parametrize('driver', ['sim', 'diffdrive'])
def test_two_robots_meet_in_a_lane_one_waits_both_arrive(
    tmp_path: Path, ros: RosClient, driver: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv('ROBODINE_TRAFFIC_CONTROL', 'true')
    config = lane_restaurant(tmp_path)
    cfg = load_restaurant(config)
    collisions: list[dict[str, Any]] = []
    stats: list[dict[str, Any]] = []
    ros.node.create_subscription(
        String, COLLISIONS_TOPIC, lambda m: collisions.append(json.loads(m.data)), latched()
    )
    ros.node.create_subscription(
        String, STATS_TOPIC, lambda m: stats.append(json.loads(m.data)), latched()
    )
    procs: list[subprocess.Popen[bytes]] = []
    env = ros_child_env()
    keys = keys_for(ROBOTS)
    try:
        if driver == 'diffdrive':
            procs.append(
                subprocess.Popen(floor_plant_command(config, SCALE, list(ROBOTS)), env=env)
            )
        else:  # the sim driver's collisions are found in the robots' shared poses
            procs.append(subprocess.Popen(floor_monitor_command(config, SCALE), env=env))
        for robot_id in ROBOTS:
            procs.append(
                start_robot_process(
                    'serving',
                    robot_id,
                    config,
                    SCALE,
                    tmp_path / 'ledger',
                    {'driver': driver, 'battery_start': 0.1},
                    key_dir=keys,
                )
            )
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
        procs.append(subprocess.Popen(traffic_controller_command(config, SCALE, keys), env=env))
        for robot_id, (_, charger) in ROBOTS.items():
            at = cfg.floor.points[charger]

            def on_charger(s: RobotState, at: Any = at) -> bool:
                return (
                    s.mode == RobotState.MODE_CHARGING
                    and abs(s.x - at.x) < 0.15
                    and abs(s.y - at.y) < 0.15
                )

            ros.wait_for_state(robot_id, on_charger, timeout=120)
        wait_until(lambda: bool(stats), 10, what='traffic figures')
        last = stats[-1]
        # Nobody was stuck and no two held one resource (whether they met depends on when each
        # robot discovered the controller: usually one is refused the lane and waits).
        assert last['deadlocks'] == 0 and last['conflicts'] == 0
        assert collisions == []
    finally:
        for proc in reversed(procs):
            stop_process(proc)
