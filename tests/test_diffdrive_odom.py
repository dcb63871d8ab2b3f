"""The `diffdrive` driver and the odometry of a real base: a serving robot node process and
this test as the base, over DDS. A base that publishes odometry best effort (as many do) is
heard; with no odometry yet the robot stands and its log says where it listens; when
odometry stops mid-drive it brakes and stands instead of steering by a pose frozen in place."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from rclpy.qos import QoSProfile, ReliabilityPolicy

from orchestrator.settings import DEFAULT_CONFIG
from tests.ros_helpers import (
    RosClient,
    ros_client_fixture,
    start_robot_process,
    stop_process,
    wait_for_log,
    wait_until,
)

pytestmark = pytest.mark.ros
SCALE = 10.0


@pytest.fixture
def ros() -> Iterator[RosClient]:
    yield from ros_client_fixture('diffdrive_odom')


def test_robot_drives_on_best_effort_odometry_and_stands_without_it(
    tmp_path: Path, ros: RosClient
) -> None:
    # (arrival, v, w) of every command the robot sends its base.
    commands: list[tuple[float, float, float]] = []

    def on_command(msg: Twist) -> None:
        commands.append((time.monotonic(), msg.linear.x, msg.angular.z))

    ros.node.create_subscription(Twist, '/robodine/serve1/cmd_vel', on_command, 10)
    best_effort = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
    odom = ros.node.create_publisher(Odometry, '/robodine/serve1/odom', best_effort)
    params = {'driver': 'diffdrive', 'peer_wait_s': 0.0}
    robot = start_robot_process('serving', 'serve1', DEFAULT_CONFIG, SCALE, tmp_path, params)
    log = tmp_path / 'serve1.log'
    try:
        ros.wait_for_state('serve1', timeout=60)
        ros.deliver('serve1', 'odom-trip', ['t01'])
        line = wait_for_log(log, 'no odometry yet', timeout=30)
        assert '/robodine/serve1/odom' in line
        assert not any(v or w for _, v, w in commands)

        def moving() -> bool:
            return any(v or w for _, v, w in commands)

        # The base reports (a robot standing on its dock: the node anchors it there).
        msg = Odometry()
        msg.pose.pose.orientation.w = 1.0
        deadline = time.monotonic() + 30
        while not moving():
            assert time.monotonic() < deadline, 'best-effort odometry never heard'
            odom.publish(msg)
            time.sleep(0.02)
        # The base goes quiet: the robot brakes, stands and says why.
        assert 'driving blind' in wait_for_log(log, 'driving blind', timeout=30)
        wait_until(lambda: commands[-1][1:] == (0.0, 0.0), 30, what='a stop command')
        settled = len(commands)
        time.sleep(1.0)
        assert all(c[1:] == (0.0, 0.0) for c in commands[settled:])
    finally:
        stop_process(robot)
