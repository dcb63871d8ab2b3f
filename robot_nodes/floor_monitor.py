"""Floor monitor: counts robot-to-robot collisions for drivers with no physics plant (`sim`).

The serving robots share their poses on `/robodine/floor/poses` (`drivers.neighbours`); the
monitor follows them and reports each new contact of two footprints (circles of `radius_m`) as
JSON on `/robodine/collisions` (std_msgs/String, transient-local), in the floor plant's format
(`robot_id`, `with` — `robot:serve2` —, `x`, `y`, `sim_s`, `count`), so `robodine rush` reads
it the same way for every driver. A robot moves metres between two reports at high time
scales: a contact is found, and placed, where the two robots' straight-line motions between
reports first bring them within reach, by way of the corners each went round
(`floor_world.SweptContacts`; where the checks split the time does not move it), checked
`lag_s` behind the wall clock so that reports still in flight are in, and never past the latest
report of a robot still reporting (on a starved machine a report may take longer than `lag_s`;
checked without it, the robot would be taken as standing where it was). Only the restaurant's
serving robots are followed. Tables and walls are not checked: sim robots drive the floor
graph's lanes, which keep off them (tests/test_lanes.py).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence

from rclpy.node import Node
from std_msgs.msg import String

from orchestrator.config import ConfigError, load_restaurant
from orchestrator.settings import DEFAULT_CONFIG
from robot_nodes.drivers.neighbours import POSES_TOPIC, STANDING_HZ, PoseReport
from robot_nodes.floor_plant import COLLISIONS_TOPIC
from robot_nodes.floor_world import SweptContacts
from robot_nodes.ros_network import latched, spin

# A robot reports at least every 1 / STANDING_HZ; one not heard for this long (wall s) has
# stopped reporting (its driver is gone), and the checks no longer wait for its next report.
REPORTING_S = 2.0 / STANDING_HZ


class FloorMonitor(Node):
    def __init__(self) -> None:
        super().__init__('floor_monitor', namespace='/robodine')
        config_path = self.declare_parameter('config_path', str(DEFAULT_CONFIG)).value
        self.time_scale = float(self.declare_parameter('time_scale', 1.0).value)
        rate_hz = float(self.declare_parameter('rate_hz', 10.0).value)
        # Wall seconds behind now that contacts are checked up to.
        self.lag_s = float(self.declare_parameter('lag_s', 0.3).value)
        cfg = load_restaurant(config_path)
        self.robot_ids = {r.id for r in cfg.serving_robots}
        self.contacts = SweptContacts()
        self.count = 0
        self.started_s = time.time()
        # time.monotonic() when each robot's latest report came.
        self._heard: dict[str, float] = {}
        self.collision_pub = self.create_publisher(String, COLLISIONS_TOPIC, latched())
        self.create_subscription(String, POSES_TOPIC, self._on_pose, 100)
        self.create_timer(1.0 / rate_hz, self._check)
        self.get_logger().info(
            f'floor monitor: {len(self.robot_ids)} serving robots, time scale {self.time_scale:g}'
        )

    def _on_pose(self, msg: String) -> None:
        try:
            report = PoseReport.decode(msg.data)
        except (ValueError, KeyError, TypeError):
            return
        if report.robot_id in self.robot_ids:
            self._heard[report.robot_id] = time.monotonic()
            self.contacts.add(
                report.robot_id,
                report.stamp_ns / 1e9,
                report.x,
                report.y,
                report.radius,
                report.via,
            )

    def _check(self) -> None:
        if not self.context.ok():
            return
        now = time.monotonic()
        reporting = [r for r, heard in self._heard.items() if now - heard < REPORTING_S]
        until = min([time.time() - self.lag_s, *self.contacts.reported_until(reporting)])
        for hit in self.contacts.check(until):
            self.count += 1
            t = hit.pop('t')
            hit.update(
                x=round(hit['x'], 3),
                y=round(hit['y'], 3),
                sim_s=round((t - self.started_s) * self.time_scale, 3),
                count=self.count,
            )
            self.get_logger().warning(f'collision: {hit}')
            self.collision_pub.publish(String(data=json.dumps(hit)))


def main(argv: Sequence[str] | None = None) -> int:
    return spin(FloorMonitor, argv, (ConfigError,))


if __name__ == '__main__':
    sys.exit(main())
