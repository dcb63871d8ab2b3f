"""The floor plant process over DDS: odometry from commands, and collision reports reaching a
late listener (the rush's FloorListener) through the transient-local topic."""

from __future__ import annotations

import math
import subprocess
import time
from collections.abc import Iterator

import pytest
from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry

from orchestrator.rush.runner import FloorListener
from robot_nodes.floor_plant import MAX_TICKS_PER_STEP, WATCHDOG_TICKS
from tests.ros_helpers import (
    RosClient,
    ros_client_fixture,
    start_floor_plant,
    stop_process,
    wait_until,
)

pytestmark = pytest.mark.ros
SCALE = 5.0
# The plant's defaults (its `rate_hz` and `cmd_timeout_s` parameters).
RATE_HZ = 50.0
CMD_TIMEOUT_S = 0.5
# Wall seconds a command may take from this process to the plant on a busy machine.
DELIVERY_S = 0.2


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

    last_sent = 0.0

    def moved(at_least: float) -> bool:
        nonlocal last_sent
        cmd.publish(twist)
        last_sent = time.time()
        time.sleep(0.02)
        return odoms[-1].pose.pose.position.x >= at_least

    wait_until(lambda: moved(0.6), 30, what='serve1 driving 0.6 m')
    # Unanswered, the base stops by itself (its watchdog) and stays put.
    x = wait_until(lambda: _still(odoms), 10, what='serve1 stopping')
    assert x >= 0.6
    assert odoms[-1].twist.twist.linear.x == 0.0
    # How far it went blind after the last command, measured from where the plant had it when
    # that command was sent (by the odometry's own stamps, so a test process slow to read its
    # odometry on a busy machine changes nothing): at most the commanded speed for the
    # watchdog, one capped integration step and the command's way to the plant.
    at_send = max((o.pose.pose.position.x for o in odoms if _stamp(o) <= last_sent), default=0.0)
    blind_s = max(CMD_TIMEOUT_S / SCALE, WATCHDOG_TICKS / RATE_HZ) + MAX_TICKS_PER_STEP / RATE_HZ
    assert x - at_send <= twist.linear.x * SCALE * (blind_s + DELIVERY_S), (x, at_send)
    # A listener that joins after the fact still gets the report.
    listener = FloorListener()
    try:
        wait_until(lambda: listener.events, 30, what='the collision report')
        (hit,) = listener.result()['events']
    finally:
        listener.stop()
    assert (hit['robot_id'], hit['with'], hit['count']) == ('serve1', 'robot:serve2', 1)
    assert math.isclose(hit['x'], 1.46, abs_tol=0.06)


def _stamp(o: Odometry) -> float:
    return o.header.stamp.sec + o.header.stamp.nanosec * 1e-9


def _still(odoms: list[Odometry]) -> float:
    """serve1's x if it did not change over 0.1 s, else 0."""
    before = odoms[-1].pose.pose.position.x
    time.sleep(0.1)
    after = odoms[-1].pose.pose.position.x
    return after if after == before else 0.0
