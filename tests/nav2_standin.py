"""The tests' stand-in for a robot's Nav2: a `nav2_msgs/action/NavigateToPose` action server
(rclpy, its own process) that moves one pose in a straight line towards each goal at `speed`
(simulated m/s) × `time_scale`, publishing feedback at 20 Hz, and turns to the goal's heading
on arrival. Like Nav2's bt_navigator, a newer goal preempts (aborts) the running one and a
cancel stops the robot where it is. It aborts its first `abort_goals` goals at once with
`error_code` UNKNOWN, as Nav2 does a goal it cannot plan to.

    python tests/nav2_standin.py --ros-args -r __ns:=/robodine/serve1 -p x:=.. -p y:=..
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import rclpy
from nav2_msgs.action import NavigateToPose
from rclpy.action import ActionServer, CancelResponse
from rclpy.action.server import ServerGoalHandle
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node

RATE_HZ = 20.0
ABORT_MSG = 'the stand-in aborts this goal (abort_goals)'


class Nav2StandIn(Node):
    def __init__(self) -> None:
        super().__init__('nav2_standin')
        self.speed = self.declare_parameter('speed', 0.8).value
        self.time_scale = self.declare_parameter('time_scale', 1.0).value
        self.to_abort = self.declare_parameter('abort_goals', 0).value
        x, y = self.declare_parameter('x', 0.0).value, self.declare_parameter('y', 0.0).value
        self.pose = [x, y, 0.0]
        self.lock = threading.Lock()
        self.current: ServerGoalHandle | None = None
        ActionServer(
            self,
            NavigateToPose,
            'navigate_to_pose',
            execute_callback=self._execute,
            handle_accepted_callback=self._on_accepted,
            cancel_callback=lambda _: CancelResponse.ACCEPT,
            callback_group=ReentrantCallbackGroup(),
        )

    def _on_accepted(self, handle: ServerGoalHandle) -> None:
        with self.lock:
            self.current = handle  # the running one sees it is preempted and aborts
        handle.execute()

    def _execute(self, handle: ServerGoalHandle) -> Any:
        result = NavigateToPose.Result()
        with self.lock:
            if self.to_abort > 0:
                self.to_abort -= 1
                result.error_code, result.error_msg = NavigateToPose.Result.UNKNOWN, ABORT_MSG
                handle.abort()
                return result
        goal = handle.request.pose.pose
        q = goal.orientation
        yaw = math.atan2(2 * q.w * q.z, 1 - 2 * q.z * q.z)
        step = self.speed * self.time_scale / RATE_HZ
        while True:
            with self.lock:
                if handle.is_cancel_requested:
                    handle.canceled()
                    return result
                preempted = self.current is not handle
                if preempted:
                    handle.abort()
                    return result
                dx, dy = goal.position.x - self.pose[0], goal.position.y - self.pose[1]
                dist = math.hypot(dx, dy)
                if dist <= step:
                    self.pose = [goal.position.x, goal.position.y, yaw]
                else:
                    self.pose = [
                        self.pose[0] + dx / dist * step,
                        self.pose[1] + dy / dist * step,
                        math.atan2(dy, dx),
                    ]
                handle.publish_feedback(self._feedback(max(dist - step, 0.0)))
                if dist <= step:
                    handle.succeed()
                    return result
            time.sleep(1.0 / RATE_HZ)

    def _feedback(self, remaining: float) -> NavigateToPose.Feedback:
        fb = NavigateToPose.Feedback(distance_remaining=remaining)
        fb.current_pose.header.frame_id = 'map'
        fb.current_pose.pose.position.x, fb.current_pose.pose.position.y = self.pose[:2]
        fb.current_pose.pose.orientation.z = math.sin(self.pose[2] / 2)
        fb.current_pose.pose.orientation.w = math.cos(self.pose[2] / 2)
        return fb


def main() -> None:
    rclpy.init()
    node = Nav2StandIn()
    executor = MultiThreadedExecutor(num_threads=4)
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == '__main__':
    main()
