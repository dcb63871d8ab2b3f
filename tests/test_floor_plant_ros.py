"""The floor plant process over DDS: odometry from commands, and collision reports reaching a
late listener (the rush's CollisionListener) through the transient-local topic."""

from __future__ import annotations

import math
import subprocess
import time
from collections.abc import Iterator

import pytest
from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry

from orchestrator.rush.runner import CollisionListener
from tests.ros_helpers import (
    RosClient,
    ros_client_fixture,
    start_floor_plant,
    stop_process,
    wait_until,
)

pytestmark = pytest.mark.ros
SCALE = 5.0


@pytest.fixture
def plant() -> Iterator[subprocess.Popen]:
    proc = start_floor_plant(SCALE)
    yield proc
    stop_process(proc)


@pytest.fixture
def ros() -> Iterator[RosClient]:
    yield from ros_client_fixture('plant_test')


def test_driving_into_the_next_dock_is_reported(plant: subprocess.Popen, ros: RosClient) -> None:
    odoms: list[Odometry] = []
    ros.node.create_subscription(Odometry, '/robodine/serve1/odom', odoms.append, 10)
    cmd = ros.node.create_publisher(Twist, '/robodine/serve1/cmd_vel', 10)
    wait_until(lambda: odoms, 30, what='odometry')
    first = odoms[-1]
    assert (first.header.frame_id, first.child_frame_id) == ('serve1/odom', 'serve1/base_link')
    assert (first.pose.pose.position.x, first.pose.pose.position.y) == (0.0, 0.0)
    # serve1 faces +x on dock1; serve2 stands on dock2, 1 m ahead: footprints (2 × 0.27 m)
    # touch after 0.46 m. Creep at 0.5 m/s, refreshing the command against the watchdog.
    twist = Twist()
    twist.linear.x = 0.5

    def moved(at_least: float) -> bool:
        cmd.publish(twist)
        time.sleep(0.02)
        return odoms[-1].pose.pose.position.x >= at_least

    wait_until(lambda: moved(0.6), 30, what='serve1 driving 0.6 m')
    # Unanswered, the base stops by itself (its watchdog) and stays put.
    x = wait_until(lambda: _still(odoms), 10, what='serve1 stopping')
    assert 0.6 <= x < 0.9
    assert odoms[-1].twist.twist.linear.x == 0.0
    # A listener that joins after the fact still gets the report.
    listener = CollisionListener()
    try:
        wait_until(lambda: listener.events, 30, what='the collision report')
        (hit,) = listener.result()['events']
    finally:
        listener.stop()
    assert (hit['robot_id'], hit['with'], hit['count']) == ('serve1', 'robot:serve2', 1)
    assert math.isclose(hit['x'], 1.46, abs_tol=0.06)


def _still(odoms: list[Odometry]) -> float:
    """serve1's x if it did not change over 0.1 s, else 0."""
    before = odoms[-1].pose.pose.position.x
    time.sleep(0.1)
    after = odoms[-1].pose.pose.position.x
    return after if after == before else 0.0
