"""The tests' stand-in for a robot's Nav2: a `nav2_msgs/action/NavigateToPose` action server
(rclpy, its own process) that moves one pose in a straight line towards each goal at `speed`
(simulated m/s) × `time_scale`, publishing feedback at 20 Hz, and turns to the goal's heading
on arrival. Like Nav2's bt_navigator, a newer goal preempts (aborts) the running one and a
cancel stops the robot where it is. It aborts its first `abort_goals` goals at once with
`error_code` UNKNOWN, as Nav2 does a goal it cannot plan to, each numbered in its `error_msg`
(`ABORT_MSG #n`): the robot's fault detail tells which goal it tried last.

    python tests/nav2_standin.py --ros-args -r __ns:=/robodine/serve1 -p x:=.. -p y:=..
"""

from __future__ import annotations

import math
from typing import Any

from nav2_msgs.action import NavigateToPose
from rclpy.action import ActionServer, CancelResponse
from rclpy.action.server import ServerGoalHandle
from rclpy.node import Node
from rclpy.task import Future

from robot_nodes.ros_network import spin

RATE_HZ = 20.0
ABORT_MSG = 'the stand-in aborts this goal (abort_goals)'


class Nav2StandIn(Node):
    def __init__(self) -> None:
        super().__init__('nav2_standin')
        self.speed = self.declare_parameter('speed', 0.8).value
        self.time_scale = self.declare_parameter('time_scale', 1.0).value
        self.to_abort = self.declare_parameter('abort_goals', 0).value
        self.aborted = 0
        x, y = self.declare_parameter('x', 0.0).value, self.declare_parameter('y', 0.0).value
        self.pose = (x, y, 0.0)
        # The goal it drives to (the newest); every goal still running, with its end.
        self.current: ServerGoalHandle | None = None
        self.running: dict[bytes, tuple[ServerGoalHandle, Future]] = {}
        ActionServer(
            self,
            NavigateToPose,
            'navigate_to_pose',
            execute_callback=self._execute,
            handle_accepted_callback=self._on_accepted,
            cancel_callback=lambda _: CancelResponse.ACCEPT,
        )
        self.create_timer(1.0 / RATE_HZ, self._step)

    def _on_accepted(self, handle: ServerGoalHandle) -> None:
        self.current = handle  # the one running before is preempted (`_step` aborts it)
        handle.execute()

    async def _execute(self, handle: ServerGoalHandle) -> Any:
        if self.to_abort > 0:
            self.to_abort -= 1
            self.aborted += 1
            handle.abort()
            return NavigateToPose.Result(
                error_code=NavigateToPose.Result.UNKNOWN, error_msg=f'{ABORT_MSG} #{self.aborted}'
            )
        end: Future = Future()
        self.running[bytes(handle.goal_id.uuid)] = (handle, end)
        await end
        return NavigateToPose.Result()

    def _step(self) -> None:
        """Each goal running: preempted, cancelled, or (the current one) a step nearer."""
        for key, (handle, end) in list(self.running.items()):
            preempted = handle is not self.current
            if preempted:
                handle.abort()
            elif handle.is_cancel_requested:
                handle.canceled()
            elif not self._drive(handle):
                continue
            del self.running[key]
            end.set_result(None)

    def _drive(self, handle: ServerGoalHandle) -> bool:
        """One step towards the goal, with feedback; True once there (succeeded)."""
        goal = handle.request.pose.pose
        dx, dy = goal.position.x - self.pose[0], goal.position.y - self.pose[1]
        dist, step = math.hypot(dx, dy), self.speed * self.time_scale / RATE_HZ
        if dist <= step:
            q = goal.orientation
            self.pose = (goal.position.x, goal.position.y, 2 * math.atan2(q.z, q.w))
        else:
            x, y = self.pose[0] + dx / dist * step, self.pose[1] + dy / dist * step
            self.pose = (x, y, math.atan2(dy, dx))
        fb = NavigateToPose.Feedback(distance_remaining=max(dist - step, 0.0))
        fb.current_pose.header.frame_id = 'map'
        fb.current_pose.pose.position.x, fb.current_pose.pose.position.y = self.pose[:2]
        fb.current_pose.pose.orientation.z = math.sin(self.pose[2] / 2)
        fb.current_pose.pose.orientation.w = math.cos(self.pose[2] / 2)
        handle.publish_feedback(fb)
        if dist <= step:
            handle.succeed()
        return dist <= step


if __name__ == '__main__':
    raise SystemExit(spin(Nav2StandIn, None, ()))
