"""`diffdrive` serving driver: follows the floor path over `cmd_vel` / `odom`.

These are the topics of the gz-sim DiffDrive system behind ros_gz_bridge, of the headless floor
plant (`robot_nodes.floor_plant`) and of most real differential bases. Relative names, so they
resolve in the robot's namespace: `/robodine/<id>/cmd_vel` (geometry_msgs/Twist, published)
and `/robodine/<id>/odom` (nav_msgs/Odometry, read).

Controller: turn-then-go. It sets off facing its way; at a corner sharper than `TURN_START_RAD`
it brakes to a stop and turns in place; on a straight it drives at up to `speed_mps`, steering
for a point `LOOKAHEAD_M` ahead on the path (through the points where the path goes on
straight, such as the table stops it passes) with a proportional term, and brakes so it stops
on each corner and on the table stop. Linear and angular speed obey the robot's
`max_accel_mps2` and `diffdrive.max_angular_accel` (a tray of soup must not be jerked). The
trip's last point counts as reached when the robot has stopped within
`diffdrive.stop_tolerance_m` of it.

Another robot's footprint ahead on the path (`MotionDriver.clearance_ahead`) is a point to
brake for like a stop; the robot goes on when it is clear.

Odometry starts wherever the base was switched on, so the first odom message is anchored to
the pose the node says the robot is in (its dock at the start of a shift). It is read best
effort (a reliable reader would hear no base that publishes it best effort, as many do). With no
odometry yet the robot stands, and the log says so while it has somewhere to go; when odometry
stops coming (`ODOM_STALE_S`) it is driving blind: it brakes at its limits and stands until
odometry comes back, instead of steering by a pose that no longer moves.

Time scale: commands are in simulated units (m/s and rad/s of the real restaurant), and the
controller measures time as wall dt × `time_scale` — the plant (or Gazebo) integrates faster,
the commands stay physical. A command may end up lasting as long as the longest recent control
step, or as long as the base's watchdog holds it (`diffdrive.command_hold_s`, wall) if this
process stalls — both grow with the time scale — so near a goal speeds are capped such that
this horizon covers at most half the way left: at large scales the robot approaches more
slowly rather than overshoot.
"""

from __future__ import annotations

import itertools
import math
import time
from collections import deque
from typing import TYPE_CHECKING

from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from rclpy.qos import QoSProfile, ReliabilityPolicy

from robot_nodes.drivers.base import MotionDriver, Pose
from robot_nodes.drivers.polyline import CORNER_RAD, corner_after, skip_passed
from robot_nodes.floor_world import wrap

if TYPE_CHECKING:
    from rclpy.node import Node

    from orchestrator.config import ServingRobot

# Heading error (rad) beyond which the robot stops and turns in place (at a corner of the path
# too), and below which a turn in place is finished.
TURN_START_RAD = CORNER_RAD
TURN_DONE_RAD = 0.1
# Proportional gain of heading correction while driving, 1/s.
HEADING_GAIN = 2.5
# How far ahead on the segment the heading is steered to, metres.
LOOKAHEAD_M = 0.6
# Slowest approach (m/s) so the braking curve's tail still arrives.
CREEP_MPS = 0.04
# Fraction of the remaining distance / angle one control step may cover: < 1 leaves room for
# the command arriving a step late.
STEP_FRACTION = 0.5
# Wall seconds without an odometry message after which the robot brakes and stands (its pose
# is unknown); and how long a path waits for the first one before the log says it is missing.
ODOM_STALE_S = 0.5
ODOM_FIRST_S = 2.0
# Wall seconds between two log lines about missing odometry.
ODOM_WARN_EVERY_S = 10.0


def yaw_of(msg: Odometry) -> float:
    q = msg.pose.pose.orientation
    return math.atan2(2 * (q.w * q.z + q.x * q.y), 1 - 2 * (q.y * q.y + q.z * q.z))


def approach(current: float, target: float, max_change: float) -> float:
    return current + max(-max_change, min(max_change, target - current))


class DiffDriveDriver(MotionDriver):
    PARAMS = 'diffdrive'

    def __init__(self, node: Node, robot: ServingRobot, time_scale: float, start: Pose) -> None:
        super().__init__(node, robot, time_scale, start)
        self.tolerance_m = self._param('stop_tolerance_m', 0.10)
        self.stop_short_m = self.tolerance_m / 2
        self.max_w = self._param('max_angular_speed', 1.0)
        self.max_alpha = self._param('max_angular_accel', 1.0)
        control_hz = self._param('control_hz', 50.0)
        # Wall seconds a base keeps applying a command when no new one comes (its watchdog;
        # the floor plant's is 4 of its 50 Hz ticks).
        self.command_hold_s = self._param('command_hold_s', 0.08)
        # Relative names resolve in the robot's namespace; a bare node gets the full names.
        ns = '' if node.get_namespace() != '/' else f'/robodine/{robot.id}/'
        self._cmd_pub = node.create_publisher(Twist, f'{ns}cmd_vel', 10)
        # Only the newest pose: after a stall of this process, queued odometry would be taken
        # one message per executor turn (after the control timer), and the robot steered by
        # poses further behind than the watchdog horizon allows for.
        odom_qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
        self._odom_sub = node.create_subscription(Odometry, f'{ns}odom', self._on_odom, odom_qos)
        self._timer = node.create_timer(1.0 / control_hz, lambda: self.tick(time.monotonic()))
        # odom frame -> floor frame (x, y, theta), fixed by the first odom message.
        self._anchor: Pose | None = None
        # In the ticks' clock: the first tick that saw the last odom message, the first tick
        # of the current path, and when the log last said odometry is missing. A callback
        # only flags what is new; the next tick dates it.
        self._odom_new = False
        self._odom_s: float | None = None
        self._path_new = True
        self._path_s = math.inf
        self._odom_warned_s: dict[str, float] = {}
        self._v = 0.0
        self._w = 0.0
        self._turning = False
        self._last_s: float | None = None
        # Recent control steps (simulated s). A command may last as long as the longest of
        # them, or as long as the base's watchdog holds it if this process stalls.
        self._steps: deque[float] = deque(maxlen=int(control_hz))
        self._idle_sent = False

    @property
    def odom_seen(self) -> bool:
        return self._anchor is not None

    @property
    def speed(self) -> float:
        return self._v

    @property
    def command(self) -> tuple[float, float]:
        """The last commanded (linear m/s, angular rad/s), in simulated units."""
        return self._v, self._w

    def set_path(self, points: list[tuple[float, float]]) -> None:
        super().set_path(points)
        # Standing, it first faces its way (to within TURN_DONE_RAD): set off at a slant, it
        # drifts off the line at speed before the heading correction catches up.
        self._turning = True
        self._idle_sent = False
        self._path_new = True

    def resume(self) -> None:
        super().resume()
        self._idle_sent = False

    def _on_odom(self, msg: Odometry) -> None:
        ox, oy, oth = msg.pose.pose.position.x, msg.pose.pose.position.y, yaw_of(msg)
        self._odom_new = True
        if self._anchor is None:
            sx, sy, sth = self._pose
            rot = sth - oth
            c, s = math.cos(rot), math.sin(rot)
            self._anchor = (sx - (c * ox - s * oy), sy - (s * ox + c * oy), rot)
        ax, ay, ath = self._anchor
        c, s = math.cos(ath), math.sin(ath)
        self._pose = (ax + c * ox - s * oy, ay + s * ox + c * oy, wrap(oth + ath))

    def tick(self, now_s: float) -> None:
        if not self.node.context.ok():  # shutting down: publishing would fail
            return
        last, self._last_s = self._last_s, now_s
        if self._odom_new:
            self._odom_new, self._odom_s = False, now_s
        if self._path_new:
            self._path_new, self._path_s = False, now_s
        if last is None or now_s <= last:
            return
        if self._anchor is None or self._odom_s is None:
            if not self.done and now_s - self._path_s >= ODOM_FIRST_S:
                self._warn_odom(
                    now_s, 'first', 'no odometry yet: standing until the base reports one'
                )
            return
        # Stale since before the previous tick too: a stall of this process alone (both the
        # ticks and the odometry held up, the odometry read after this tick) is not blindness.
        blind = last - self._odom_s > ODOM_STALE_S
        if blind and not self.done:
            self._warn_odom(
                now_s,
                'stale',
                f'no odometry for {now_s - self._odom_s:.1f} s: driving blind, so braking and '
                'standing until it comes back',
            )
        dt = (now_s - last) * self.time_scale
        self._steps.append(dt)
        horizon = max(*self._steps, self.command_hold_s * self.time_scale)
        still = self._halted or self.done or blind
        v_target, w_target = (0.0, 0.0) if still else self._targets(horizon)
        # Another robot in the way: brake to stop short of it, as on a stop of the path.
        free = self.clearance_ahead(dt, horizon)
        if free < math.inf:
            to_stop = max(free - self.stop_short_m, 0.0)
            v_target = min(
                v_target,
                math.sqrt(2 * self.robot.max_accel_mps2 * to_stop),
                STEP_FRACTION * to_stop / horizon,
            )
        self._v = approach(self._v, v_target, self.robot.max_accel_mps2 * dt)
        self._w = approach(self._w, w_target, self.max_alpha * dt)
        stopped = self._v == 0.0 and self._w == 0.0
        if not (self.done or self._halted or blind) and stopped and self._arrived():
            self._next = len(self._path)
        if stopped and still:
            # One zero command holds a base that keeps its last command (gz DiffDrive does).
            if self._idle_sent:
                self.share_pose()
                return
            self._idle_sent = True
        else:
            self._idle_sent = False
        cmd = Twist()
        cmd.linear.x = self._v
        cmd.angular.z = self._w
        self._cmd_pub.publish(cmd)
        self.share_pose()

    def _warn_odom(self, now_s: float, kind: str, what: str) -> None:
        if now_s - self._odom_warned_s.get(kind, -math.inf) < ODOM_WARN_EVERY_S:
            return
        self._odom_warned_s[kind] = now_s
        self.node.get_logger().warning(
            f'{what} ({self._odom_sub.topic_name}: nav_msgs/Odometry from the base, the floor '
            'plant or the Gazebo bridge)'
        )

    def _arrived(self) -> bool:
        tx, ty = self._path[-1]
        return (
            self._next >= len(self._path) - 1
            and math.hypot(tx - self._pose[0], ty - self._pose[1]) <= self.tolerance_m
        )

    def _targets(self, dt: float) -> tuple[float, float]:
        """Speeds (v, w) the robot should head for now, before acceleration limits; `dt` is
        how long (simulated s) a command may have to last before the next one."""
        self._skip_passed_points()
        x, y, th = self._pose
        tx, ty = self._path[self._next]
        dist = math.hypot(tx - x, ty - y)
        if self._arrived():
            return 0.0, 0.0
        # Whether to turn in place is judged towards the next corner (or the end), not the
        # next point: passing a point of a straight a little off the line, the bearing to it
        # swings past TURN_START_RAD and the robot would swerve at speed.
        corner = corner_after(self._path, self._next)
        kx, ky = self._path[corner]
        err = wrap(math.atan2(ky - y, kx - x) - th)
        if self._turning and abs(err) < TURN_DONE_RAD:
            self._turning = False
        elif abs(err) > TURN_START_RAD:
            self._turning = True
        if self._turning:
            return 0.0, math.copysign(self._w_cap(err, dt), err)
        # The path on to the corner goes on straight: brake for the corner, not for each point.
        ahead = self._path[self._next : corner + 1]
        straight = sum(math.dist(a, b) for a, b in itertools.pairwise(ahead))
        to_stop = max(dist + straight - self.tolerance_m / 2, 0.0)
        v = min(
            self.robot.speed_mps,
            math.sqrt(2 * self.robot.max_accel_mps2 * to_stop),
            STEP_FRACTION * to_stop / dt,
        )
        v = max(v, min(CREEP_MPS, to_stop / dt)) * max(math.cos(err), 0.0)
        # Steer for a point ahead on the segment, not for its end: a robot pushed off the
        # line comes back to the aisle instead of closing in on the corner at a slant.
        cx, cy = self._carrot(corner)
        steer = wrap(math.atan2(cy - y, cx - x) - th)
        w_cap = self._w_cap(steer, dt)
        return v, max(-w_cap, min(w_cap, HEADING_GAIN * steer))

    def _w_cap(self, angle: float, dt: float) -> float:
        """Fastest turn (rad/s) that still stops on `angle` at the angular limits and covers
        at most half of it in `dt`."""
        return min(
            self.max_w,
            math.sqrt(2 * self.max_alpha * abs(angle)),
            STEP_FRACTION * abs(angle) / dt,
        )

    def _carrot(self, corner: int) -> tuple[float, float]:
        """`LOOKAHEAD_M` ahead of the robot's projection on the segment it is driving, along
        the path through the points where it goes on straight, capped at point `corner`."""
        bx, by = self._path[self._next]
        if self._next == 0:
            return bx, by
        ax, ay = self._path[self._next - 1]
        length = math.hypot(bx - ax, by - ay)
        if length < 1e-9:
            return bx, by
        along = ((self._pose[0] - ax) * (bx - ax) + (self._pose[1] - ay) * (by - ay)) / length
        reach = max(along, 0.0) + LOOKAHEAD_M
        for i in range(self._next, corner + 1):
            (ax, ay), (bx, by) = self._path[i - 1], self._path[i]
            length = math.hypot(bx - ax, by - ay)
            if reach <= length:
                return ax + (bx - ax) * reach / length, ay + (by - ay) * reach / length
            reach -= length
        return bx, by

    def _skip_passed_points(self) -> None:
        x, y, _ = self._pose
        self._next = skip_passed(self._path, self._next, (x, y), self.tolerance_m)

    def close(self) -> None:
        self.node.destroy_timer(self._timer)
        self.node.destroy_subscription(self._odom_sub)
        self.node.destroy_publisher(self._cmd_pub)
        super().close()
