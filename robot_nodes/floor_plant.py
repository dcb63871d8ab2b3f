"""Headless floor plant: plays the physical serving robots for CI and anyone without Gazebo.

For every serving robot of the restaurant it does what the gz-sim DiffDrive + OdometryPublisher
systems do behind ros_gz_bridge: takes `geometry_msgs/Twist` on `/robodine/<id>/cmd_vel`,
integrates unicycle kinematics and publishes `nav_msgs/Odometry` on `/robodine/<id>/odom`
(frame `<id>/odom`, child `<id>/base_link`). Like a real base, odometry starts at (0, 0, 0) where
the robot was switched on — its dock — so the driver anchors it to the floor itself.

Time scale: commands and odometry are in *simulated* units (m/s of the real restaurant); the
plant advances simulated time by wall dt × `time_scale` each tick, so a faster simulation
never means faster commands. A base that hears no command for `cmd_timeout_s` of simulated
time (but never less than `WATCHDOG_TICKS` of its own ticks) stops, as real bases and their
watchdogs do: a stalled driver process does not mean seconds of blind driving at high time
scales. A stall of the plant itself is not made up for in one leap either: one tick advances
at most `MAX_TICKS_PER_STEP` ticks' worth of time (the plant's world runs slow meanwhile).

It also checks the footprints (circles of `radius_m`) against tables (squares of
`floor.table_size_m`), walls (segments) and each other, and publishes each new contact as JSON
on `/robodine/collisions` (std_msgs/String, transient-local so a late listener gets them all),
with the running count.
"""

from __future__ import annotations

import functools
import json
import math
import sys
import time
from collections.abc import Sequence

from builtin_interfaces.msg import Time
from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from rclpy.node import Node
from std_msgs.msg import String

from orchestrator.config import ConfigError, load_restaurant
from orchestrator.settings import DEFAULT_CONFIG
from robot_nodes.floor_world import Body, FloorWorld
from robot_nodes.ros_network import latched, spin

COLLISIONS_TOPIC = '/robodine/collisions'
WATCHDOG_TICKS = 4
MAX_TICKS_PER_STEP = 5


def odometry(world: FloorWorld, body: Body, stamp: Time) -> Odometry:
    """The body's odometry message, as a base publishes it (pose from where it started)."""
    x, y, th = world.odometry(body)
    msg = Odometry()
    msg.header.stamp = stamp
    msg.header.frame_id = f'{body.robot_id}/odom'
    msg.child_frame_id = f'{body.robot_id}/base_link'
    msg.pose.pose.position.x = x
    msg.pose.pose.position.y = y
    msg.pose.pose.orientation.z = math.sin(th / 2)
    msg.pose.pose.orientation.w = math.cos(th / 2)
    msg.twist.twist.linear.x = body.v
    msg.twist.twist.angular.z = body.w
    return msg


class FloorPlant(Node):
    def __init__(self) -> None:
        super().__init__('floor_plant', namespace='/robodine')
        config_path = self.declare_parameter('config_path', str(DEFAULT_CONFIG)).value
        self.time_scale = float(self.declare_parameter('time_scale', 1.0).value)
        rate_hz = float(self.declare_parameter('rate_hz', 50.0).value)
        cmd_timeout_s = float(self.declare_parameter('cmd_timeout_s', 0.5).value)
        self.period_s = 1.0 / rate_hz
        # Both in wall seconds.
        self.watchdog_s = max(cmd_timeout_s / self.time_scale, WATCHDOG_TICKS * self.period_s)
        self.max_step_s = MAX_TICKS_PER_STEP * self.period_s
        robots = list(self.declare_parameter('robots', ['']).value or [])
        cfg = load_restaurant(config_path)
        self.world = FloorWorld(cfg, [r for r in robots if r] or None)
        self.odom_pubs = {}
        for rid, body in self.world.bodies.items():
            self.odom_pubs[rid] = self.create_publisher(Odometry, f'/robodine/{rid}/odom', 10)
            self.create_subscription(
                Twist, f'/robodine/{rid}/cmd_vel', functools.partial(self._on_cmd, body), 10
            )
        self.collision_pub = self.create_publisher(String, COLLISIONS_TOPIC, latched())
        self._last = time.monotonic()
        self.sim_s = 0.0
        self.create_timer(self.period_s, self._tick)
        self.get_logger().info(
            f'floor plant: {len(self.world.bodies)} robots at {rate_hz:g} Hz, '
            f'time scale {self.time_scale:g}'
        )

    def _on_cmd(self, body: Body, msg: Twist) -> None:
        body.v, body.w = msg.linear.x, msg.angular.z
        body.commanded_at = time.monotonic()

    def _tick(self) -> None:
        if not self.context.ok():  # SIGTERM arrived; the executor is about to stop
            return
        now = time.monotonic()
        dt = min(now - self._last, self.max_step_s) * self.time_scale
        self._last = now
        self.sim_s += dt
        for body in self.world.bodies.values():
            if body.commanded_at is None or now - body.commanded_at > self.watchdog_s:
                body.v = body.w = 0.0
        for hit in self.world.step(dt, self.sim_s):
            hit['count'] = len(self.world.collisions)
            self.get_logger().warning(f'collision: {hit}')
            self.collision_pub.publish(String(data=json.dumps(hit)))
        stamp = self.get_clock().now().to_msg()
        for rid, body in self.world.bodies.items():
            self.odom_pubs[rid].publish(odometry(self.world, body, stamp))


def main(argv: Sequence[str] | None = None) -> int:
    return spin(FloorPlant, argv, (ConfigError,))


if __name__ == '__main__':
    sys.exit(main())
