"""`nav2` serving driver: drives a robot that runs Nav2 by sending it `NavigateToPose` goals.

The action server is the robot's bt_navigator, `nav2.action` (default `navigate_to_pose`: a
relative name, so `/robodine/<id>/navigate_to_pose` in the robot's namespace; an absolute one,
`/robot1/navigate_to_pose`, for a Nav2 launched in a namespace of its own). The type is Jazzy's
`nav2_msgs/action/NavigateToPose` (the system's nav2_msgs, or the copy scripts/bootstrap.sh
builds from robot_nodes/nav2_msgs). Goals are in `nav2.frame_id` (default `map`). A map made
by SLAM has its own origin: `nav2.map_x`, `nav2.map_y` and `nav2.map_yaw` place the restaurant
floor on it (the floor's origin in the map frame, and the heading of its x axis there), and
the driver turns goals into the map frame and feedback back into the floor's (`MapFrame`).

One goal per corner of the path (`polyline.corner_after`), not one to its end: Nav2 plans its
own way to a goal, which could leave the robot's lane or take an aisle the traffic controller
never granted; through the corners it keeps to both, and it stops and turns at each as
`diffdrive` does. Each goal faces the way on from its corner (the last, the way it came).
`NavigateThroughPoses` would round the corners without stopping: its controller cuts each one
(Nav2 drops a via pose once within its own radius), swinging out of the lane at a junction that
the traffic controller granted for the lane's way round, which is why `diffdrive` stops there.

The pose is the goal feedback's `current_pose` (what bt_navigator reads from TF at each tick
of its tree, in the goals' frame; turned into the floor's): no topic of its own, no TF
listener, and nothing to anchor. Between goals Nav2 does not move the robot, so the last
feedback stays true; a robot that is pushed by hand while idle reports where it was until its
next goal. (`amcl_pose` is published only when AMCL updates, a few times per metre: too
seldom for the obstacle stop of others.)

Traffic gate: the node gives a path that ends where the grant ends (its hold point); a longer
grant is a new path, whose next corner preempts the running goal (Nav2 takes the newer goal,
without stopping, and aborts the older, which is ignored). `halt()` and another robot in the
way (`MotionDriver.clearance_ahead`, closer than the robot's braking distance) cancel the
goal, and Nav2 brakes; `resume()` and the way clearing send it again.

Faults (`fault`, reported by the node as mode fault with the reason): no action server within
`nav2.server_wait_s` while there is somewhere to go, or the server gone while a goal runs —
cleared once the server is back (the goal is sent again then); a goal Nav2 rejects, aborts or
cancels by itself (its `error_code` and `error_msg` in the reason) — sent again every
`nav2.retry_s` (wall), and cleared once a goal succeeds or the robot has moved
`FAULT_CLEAR_M` since.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from action_msgs.msg import GoalStatus
from nav2_msgs.action import NavigateToPose
from rclpy.action import ActionClient
from rclpy.task import Future
from unique_identifier_msgs.msg import UUID

from robot_nodes.drivers.base import MotionDriver, Point, Pose
from robot_nodes.drivers.polyline import corner_after, skip_passed
from robot_nodes.floor_world import wrap

if TYPE_CHECKING:
    from rclpy.node import Node

    from orchestrator.config import ServingRobot

# Closer than this (m) to a point of the path counts as having reached it; a goal Nav2 says
# it reached counts as reached wherever its goal checker stopped the robot.
REACHED_M = 0.1
# A goal fault clears once the robot has moved this far (m) from where it arose.
FAULT_CLEAR_M = 0.5
# Wall seconds without feedback after which the robot counts as standing (speed 0).
FEEDBACK_STALE_S = 0.5
# Stopped for another robot, it sends its goal again once the way is this much (m) clearer
# than where it stops.
RESUME_MARGIN_M = 0.1
# Same target: goals within this (m, rad) are one.
SAME_M = 1e-3


@dataclass
class _Goal:
    """A goal sent to Nav2: to point `index` of `path`, facing `yaw`."""

    uuid: bytes
    path: list[Point]
    index: int
    x: float
    y: float
    yaw: float
    handle: Any = None  # rclpy's ClientGoalHandle once accepted

    def same(self, x: float, y: float, yaw: float) -> bool:
        return math.hypot(self.x - x, self.y - y) <= SAME_M and abs(self.yaw - yaw) <= SAME_M


@dataclass(frozen=True)
class MapFrame:
    """Where the restaurant floor lies on the robot's map: its origin at (x, y) of the map
    frame, its x axis turned by `yaw`. The default is the map frame itself."""

    x: float = 0.0
    y: float = 0.0
    yaw: float = 0.0

    def to_map(self, pose: Pose) -> Pose:
        """A goal's pose in the map frame (its heading unfolded: it becomes a quaternion)."""
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        fx, fy, fyaw = pose
        return self.x + c * fx - s * fy, self.y + s * fx + c * fy, fyaw + self.yaw

    def to_floor(self, pose: Pose) -> Pose:
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        dx, dy = pose[0] - self.x, pose[1] - self.y
        return c * dx + s * dy, -s * dx + c * dy, wrap(pose[2] - self.yaw)


def goal_yaw(path: list[Point], i: int) -> float:
    """The heading a goal at point i faces: the way on from it (at the last point, the way the
    path came in)."""
    a, b = (path[i], path[i + 1]) if i + 1 < len(path) else (path[i - 1], path[i])
    return math.atan2(b[1] - a[1], b[0] - a[0])


class Nav2Driver(MotionDriver):
    PARAMS = 'nav2'

    def __init__(self, node: Node, robot: ServingRobot, time_scale: float, start: Pose) -> None:
        super().__init__(node, robot, time_scale, start)
        action = self._param('action', 'navigate_to_pose')
        self.frame_id = self._param('frame_id', 'map')
        # Where the floor lies on the map (`MapFrame`): goals and feedback are turned with it.
        self.map = MapFrame(
            self._param('map_x', 0.0), self._param('map_y', 0.0), self._param('map_yaw', 0.0)
        )
        self.behavior_tree = self._param('behavior_tree', '')
        self.retry_s = self._param('retry_s', 5.0)
        self.server_wait_s = self._param('server_wait_s', 2.0)
        # The robot stops short of another one by what Nav2 takes to brake after a cancel.
        self.stop_short_m = 0.3
        # A relative name resolves in the robot's namespace (a bare node: `/robodine/<id>`).
        ns = node.get_namespace() if node.get_namespace() != '/' else f'/robodine/{robot.id}'
        self.action_name = action if action.startswith('/') else f'{ns}/{action}'
        self._client = ActionClient(node, NavigateToPose, self.action_name)
        self._goal: _Goal | None = None
        # Where the robot stands for another one in its way (a goal cancelled for it).
        self._stopped_for_peer = False
        # Why it cannot drive: the server (missing or gone), or the last goal's end.
        self._server_fault = ''
        self._goal_fault = ''
        # Where the goal fault arose, and when a goal may be sent again (monotonic).
        self._fault_at: Point = (start[0], start[1])
        self._retry_at = 0.0
        # Since when (monotonic) it has wanted to send a goal with no server to take it.
        self._no_server_since: float | None = None
        self._said = ''
        # The last two feedback poses with their arrival (monotonic): the speed.
        self._fed: list[tuple[float, Point]] = []
        self._last_s: float | None = None

    # --- the seam ----------------------------------------------------------------------------

    @property
    def fault(self) -> str:
        return self._server_fault or self._goal_fault

    @property
    def speed(self) -> float:
        if len(self._fed) < 2 or time.monotonic() - self._fed[-1][0] > FEEDBACK_STALE_S:
            return 0.0
        (t0, p0), (t1, p1) = self._fed
        return math.dist(p0, p1) / max(t1 - t0, 1e-6) / self.time_scale

    def set_path(self, points: list[Point]) -> None:
        super().set_path(points)
        self._advance()
        self._steer()

    def halt(self) -> None:
        super().halt()
        self._cancel()

    def resume(self) -> None:
        super().resume()
        self._retry_at = 0.0  # the operator's resume: try a failed goal again now
        self._steer()

    def tick(self, now_s: float) -> None:
        last, self._last_s = self._last_s, now_s
        dt = max(now_s - last, 0.0) * self.time_scale if last is not None else 0.0
        self._advance()
        free = self.clearance_ahead(dt)
        v = self.speed
        if free <= self.stop_short_m + v * v / (2 * self.robot.max_accel_mps2) + v * dt:
            self._stopped_for_peer = True
        elif free > self.stop_short_m + RESUME_MARGIN_M:
            self._stopped_for_peer = False
        if self._goal is not None and not self._client.server_is_ready():
            self._goal = None
            self._set_server_fault(f'Nav2 action server {self.action_name} went away')
        self._steer(now_s)
        self.share_pose()

    def close(self) -> None:
        # Stopped by a signal, the context is gone first: Nav2, which does not cancel the goals
        # of a client that went, takes the robot on to its current corner, and stands.
        if self.node.context.ok():
            self._cancel()
        self._client.destroy()
        super().close()

    # --- goals -------------------------------------------------------------------------------

    def _advance(self) -> None:
        """Move `_next` on past the points the robot has reached or driven past, but not past
        the goal running on this path: its success moves on from there."""
        if self._path:
            x, y, _ = self._pose
            goal = self._goal
            on = goal is not None and goal.path is self._path
            target = goal.index if goal is not None and on else len(self._path) - 1
            self._next = min(skip_passed(self._path, self._next, (x, y), REACHED_M), target)
            if self._next == len(self._path) - 1 and self._reached(self._next):
                self._next = len(self._path)

    def _reached(self, i: int) -> bool:
        return math.dist(self._path[i], self._pose[:2]) <= REACHED_M

    def _steer(self, now_s: float | None = None) -> None:
        """Have Nav2 drive to the next corner if the robot should be driving, else nothing."""
        if self._halted or self.done or self._stopped_for_peer:
            self._cancel()
            self._no_server_since = None
            return
        index = corner_after(self._path, self._next)
        x, y = self._path[index]
        yaw = goal_yaw(self._path, index) if len(self._path) > 1 else self._pose[2]
        if self._goal is not None and self._goal.same(x, y, yaw):
            self._goal.path, self._goal.index = self._path, index  # a new path, the same goal
            return
        now = time.monotonic() if now_s is None else now_s
        if now < self._retry_at:
            return
        if not self._client.server_is_ready():
            self._no_server_since = self._no_server_since or now
            if now - self._no_server_since >= self.server_wait_s:
                self._set_server_fault(f'no Nav2 action server {self.action_name}')
            return
        self._no_server_since = None
        self._server_fault = ''
        self._send(_Goal(uuid.uuid4().bytes, self._path, index, x, y, yaw))

    def _send(self, goal: _Goal) -> None:
        # No cancel of the running goal: Nav2 preempts it with this one without stopping.
        self._goal = goal
        msg = NavigateToPose.Goal(behavior_tree=self.behavior_tree)
        msg.pose.header.frame_id = self.frame_id
        msg.pose.header.stamp = self.node.get_clock().now().to_msg()
        x, y, yaw = self.map.to_map((goal.x, goal.y, goal.yaw))
        msg.pose.pose.position.x, msg.pose.pose.position.y = x, y
        msg.pose.pose.orientation.z = math.sin(yaw / 2)
        msg.pose.pose.orientation.w = math.cos(yaw / 2)
        sent = self._client.send_goal_async(
            msg, feedback_callback=self._on_feedback, goal_uuid=UUID(uuid=list(goal.uuid))
        )
        sent.add_done_callback(lambda f: self._on_response(goal, f))

    def _cancel(self) -> None:
        """Cancel the running goal (one whose answer is still to come is cancelled when it
        comes: `_on_response`)."""
        goal, self._goal = self._goal, None
        if goal is not None and goal.handle is not None:
            goal.handle.cancel_goal_async()

    def _on_response(self, goal: _Goal, sent: Future) -> None:
        handle = sent.result()
        if handle is None:
            return
        if goal is not self._goal:
            if handle.accepted and self._goal is None:
                handle.cancel_goal_async()  # cancelled while on its way (a newer goal preempts)
            return
        if not handle.accepted:
            self._goal = None
            self._goal_failed(f'Nav2 rejected the goal to ({goal.x:.2f}, {goal.y:.2f})')
            return
        goal.handle = handle
        handle.get_result_async().add_done_callback(lambda f: self._on_result(goal, f))

    def _on_result(self, goal: _Goal, done: Future) -> None:
        if goal is not self._goal:
            return  # cancelled or preempted by us
        self._goal = None
        answer = done.result()
        if answer is not None and answer.status == GoalStatus.STATUS_SUCCEEDED:
            self._goal_fault = ''
            self._next = goal.index + 1
            self._advance()
            self._steer()
            return
        status = answer.status if answer is not None else GoalStatus.STATUS_UNKNOWN
        how = {GoalStatus.STATUS_CANCELED: 'cancelled'}.get(status, 'aborted')
        why = ''
        if answer is not None and (answer.result.error_code or answer.result.error_msg):
            why = f': error {answer.result.error_code} {answer.result.error_msg}'.rstrip()
        self._goal_failed(f'Nav2 {how} the goal to ({goal.x:.2f}, {goal.y:.2f}){why}')

    def _on_feedback(self, msg: Any) -> None:
        pose = msg.feedback.current_pose.pose
        q = pose.orientation
        yaw = math.atan2(2 * (q.w * q.z + q.x * q.y), 1 - 2 * (q.y * q.y + q.z * q.z))
        self._pose = self.map.to_floor((pose.position.x, pose.position.y, yaw))
        self._fed = [*self._fed[-1:], (time.monotonic(), self._pose[:2])]
        if self._goal_fault and math.dist(self._fault_at, self._pose[:2]) >= FAULT_CLEAR_M:
            self._goal_fault = ''

    # --- faults ------------------------------------------------------------------------------

    def _goal_failed(self, why: str) -> None:
        self._goal_fault = why
        self._fault_at = (self._pose[0], self._pose[1])
        self._retry_at = time.monotonic() + self.retry_s
        self._say(f'{why}; sending it again in {self.retry_s:g} s')

    def _set_server_fault(self, why: str) -> None:
        self._server_fault = why
        self._say(f'{why} (nav2_msgs/action/NavigateToPose: is Nav2 up, under that name?)')

    def _say(self, what: str) -> None:
        if what != self._said:
            self._said = what
            self.node.get_logger().warning(what)
