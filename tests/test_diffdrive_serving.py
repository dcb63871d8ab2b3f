"""The serving robot node driving with `driver:=diffdrive` against the floor plant: three
processes (plant, robot, this test's client) over real DDS, one trip through the Deliver
action, every table stop reached within the driver's tolerance and nothing hit."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from action_msgs.msg import GoalStatus
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from restaurant_interfaces.action import Deliver
from restaurant_interfaces.msg import RobotState, StopResult
from std_msgs.msg import String

from orchestrator.config import RestaurantConfig
from orchestrator.settings import DEFAULT_CONFIG
from robot_nodes.floor_plant import COLLISIONS_TOPIC
from tests.ros_helpers import (
    RosClient,
    ros_client_fixture,
    start_floor_plant,
    start_robot_process,
    stop_process,
    wait_until,
)

pytestmark = pytest.mark.ros
SCALE = 10.0
# The driver's default `diffdrive.stop_tolerance_m`.
TOLERANCE_M = 0.10
TABLES = ['t01', 't08', 't11', 't16']


@pytest.fixture
def plant_and_robot(tmp_path: Path) -> Iterator[None]:
    plant = start_floor_plant(SCALE, ['serve1'])
    robot = start_robot_process(
        'serving', 'serve1', DEFAULT_CONFIG, SCALE, tmp_path, {'driver': 'diffdrive'}
    )
    yield
    stop_process(robot)
    stop_process(plant)


@pytest.fixture
def ros() -> Iterator[RosClient]:
    yield from ros_client_fixture('diffdrive_trip')


def test_trip_reaches_every_stop_within_tolerance(
    plant_and_robot: None, ros: RosClient, demo_config: RestaurantConfig
) -> None:
    collisions: list[dict] = []
    latched = QoSProfile(
        depth=1000,
        durability=DurabilityPolicy.TRANSIENT_LOCAL,
        reliability=ReliabilityPolicy.RELIABLE,
    )

    def on_collision(msg: String) -> None:
        collisions.append(json.loads(msg.data))

    ros.node.create_subscription(String, COLLISIONS_TOPIC, on_collision, latched)
    ros.wait_for_state('serve1', timeout=60)
    run = ros.deliver('serve1', 'dd-trip', TABLES)
    for table_id in TABLES:
        stop = demo_config.floor.points[demo_config.table_by_id[table_id].waypoint]

        def waiting(table_id: str = table_id) -> bool:
            last = run.feedback[-1][1] if run.feedback else None
            return bool(last and last.stage == 'waiting_pickup' and last.next_stop == table_id)

        wait_until(waiting, 90, what=f'arrival at {table_id}')
        fb = run.feedback[-1][1]
        assert math.hypot(fb.x - stop.x, fb.y - stop.y) <= TOLERANCE_M, (table_id, fb.x, fb.y)
        assert ros.confirm_pickup('serve1', 'dd-trip', table_id).accepted
    result = run.result(120)
    assert (run.status(), result.outcome) == (
        GoalStatus.STATUS_SUCCEEDED,
        Deliver.Result.OUTCOME_COMPLETED,
    )
    assert [r.outcome for r in result.results] == [StopResult.DELIVERED] * len(TABLES)
    dock = demo_config.floor.points['dock1']
    home = ros.wait_for_state('serve1', lambda s: s.mode == RobotState.MODE_IDLE, timeout=60)
    assert math.hypot(home.x - dock.x, home.y - dock.y) <= TOLERANCE_M
    assert collisions == []
