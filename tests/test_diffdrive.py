"""The diffdrive driver against the headless floor plant, over real DDS between processes.

The plant runs as its own process (as under `robodine up --driver diffdrive`); this test's node
hosts the driver and tours every table stop of the demo floor from serve1's dock.
"""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import time
from collections.abc import Iterator

import pytest
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import String

from orchestrator.config import RestaurantConfig
from robot_nodes.drivers.diffdrive import DiffDriveDriver
from robot_nodes.floor_plant import COLLISIONS_TOPIC
from robot_nodes.floor_world import dock_pose
from tests.ros_helpers import bare_node, start_floor_plant, table_tour

pytestmark = pytest.mark.ros
SCALE = 20.0


@pytest.fixture
def plant() -> Iterator[subprocess.Popen]:
    proc = start_floor_plant(SCALE, ['serve1'])
    yield proc
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def ros() -> Iterator[tuple[Node, SingleThreadedExecutor]]:
    with bare_node('diffdrive_test') as node:
        executor = SingleThreadedExecutor(context=node.context)
        executor.add_node(node)
        yield node, executor
        executor.shutdown()


def test_tour_of_every_table_stop(
    plant: subprocess.Popen,
    ros,
    demo_config: RestaurantConfig,
) -> None:
    node, executor = ros
    robot = next(r for r in demo_config.serving_robots if r.id == 'serve1')
    driver = DiffDriveDriver(node, robot, SCALE, dock_pose(demo_config, robot))
    collisions: list[dict] = []
    latched = QoSProfile(
        depth=1000,
        durability=DurabilityPolicy.TRANSIENT_LOCAL,
        reliability=ReliabilityPolicy.RELIABLE,
    )
    node.create_subscription(
        String, COLLISIONS_TOPIC, lambda m: collisions.append(json.loads(m.data)), latched
    )
    # (wall time, v, w) of every control tick, to check the driver's limits afterwards: the
    # tick's own time, so that a tick the machine delayed is judged by the time it really had.
    samples: list[tuple[float, float, float]] = []
    control_tick = driver.tick

    def tick(now_s: float) -> None:
        control_tick(now_s)
        samples.append((now_s, *driver.command))

    driver.tick = tick  # type: ignore[method-assign]

    def spin_until(cond, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not cond():
            assert time.monotonic() < deadline, 'timed out'
            assert plant.poll() is None, 'floor plant died'
            executor.spin_once(timeout_sec=0.01)

    spin_until(lambda: driver.odom_seen, 30)
    floor = demo_config.floor
    started = time.monotonic()
    for table, points in table_tour(demo_config, robot.dock):
        driver.set_path(points)
        spin_until(lambda: driver.done, 120)
        stop = floor.points[table.waypoint]
        x, y, _ = driver.pose
        assert math.hypot(x - stop.x, y - stop.y) <= driver.tolerance_m, table.id
    sim_s = (time.monotonic() - started) * SCALE
    assert_within_limits(samples, robot.speed_mps, robot.max_accel_mps2, driver)
    # Let any collision report in flight arrive before checking there were none.
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.05)
    assert collisions == []
    print(f'toured {len(demo_config.tables)} tables in {sim_s:.0f} simulated s')
    driver.close()


def assert_within_limits(
    samples: list[tuple[float, float, float]], v_max: float, a_max: float, driver: DiffDriveDriver
) -> None:
    """Speeds never exceed the limits, and from one control tick to the next they change no
    faster than the acceleration limits allow over the time between the two ticks."""
    assert max(abs(v) for _, v, _ in samples) <= v_max + 1e-9
    assert max(abs(w) for _, _, w in samples) <= driver.max_w + 1e-9
    for (t0, v0, w0), (t, v, w) in itertools.pairwise(samples):
        span = (t - t0) * SCALE
        assert abs(v - v0) <= a_max * span + 1e-9, (t0, v0, t, v)
        assert abs(w - w0) <= driver.max_alpha * span + 1e-9, (t0, w0, t, w)
