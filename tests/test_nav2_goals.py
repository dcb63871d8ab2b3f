"""The `nav2` driver's goals, with an in-process fake of the action client (no ROS graph): one
goal per corner, each facing the way on; a longer traffic grant preempts the goal to the hold
point; another robot in the way cancels the goal and a clear way sends it again; a rejected
goal is a fault, sent again after `nav2.retry_s`; a floor placed on the map by `nav2.map_*`
gets its goals and feedback turned."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from action_msgs.msg import GoalStatus
from nav2_msgs.action import NavigateToPose
from rclpy.task import Future

from orchestrator.config import RestaurantConfig
from robot_nodes.drivers.nav2 import Nav2Driver
from robot_nodes.drivers.neighbours import PoseReport
from tests.ros_helpers import bare_node


@dataclass
class Sent:
    """One goal as the fake Nav2 got it; `succeed` and `abort` answer it."""

    goal: Any
    feedback: Callable[[Any], None]
    result: Future = field(default_factory=Future)
    cancelled: bool = False

    @property
    def at(self) -> tuple[float, float, float]:
        p = self.goal.pose.pose
        return p.position.x, p.position.y, 2 * math.atan2(p.orientation.z, p.orientation.w)

    def answer(self, accepted: bool) -> Any:
        return SimpleNamespace(
            accepted=accepted,
            get_result_async=lambda: self.result,
            cancel_goal_async=lambda: setattr(self, 'cancelled', True),
        )

    def drive_to(self, x: float, y: float) -> None:
        fb = NavigateToPose.Feedback()
        fb.current_pose.pose.position.x, fb.current_pose.pose.position.y = x, y
        fb.current_pose.pose.orientation.w = 1.0
        self.feedback(SimpleNamespace(feedback=fb))

    def end(self, status: int) -> None:
        self.result.set_result(SimpleNamespace(status=status, result=NavigateToPose.Result()))


class FakeNav2:
    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.rejecting = False

    def server_is_ready(self) -> bool:
        return True

    def send_goal_async(self, goal: Any, feedback_callback: Any, goal_uuid: Any) -> Future:
        sent = Sent(goal, feedback_callback)
        self.sent.append(sent)
        response: Future = Future()
        response.set_result(sent.answer(not self.rejecting))
        return response

    def destroy(self) -> None:
        pass


@contextmanager
def faked(cfg: RestaurantConfig, **params: float) -> Iterator[tuple[Nav2Driver, FakeNav2]]:
    """A nav2 driver on a bare node with these `nav2.` parameters, its client the fake."""
    with bare_node('nav2_goals') as node:
        for name, value in params.items():
            node.declare_parameter(f'nav2.{name}', value)
        drv = Nav2Driver(node, cfg.serving_robots[0], 1.0, (0.0, 0.0, 0.0))
        drv._client.destroy()
        fake = FakeNav2()
        drv._client = fake
        yield drv, fake
        drv.close()


@pytest.fixture
def driver(demo_config: RestaurantConfig) -> Iterator[tuple[Nav2Driver, FakeNav2]]:
    with faked(demo_config) as both:
        yield both


def close(a: tuple[float, float, float], b: tuple[float, float, float]) -> bool:
    return all(math.isclose(u, v, abs_tol=1e-6) for u, v in zip(a, b, strict=True))


def arrive(sent: Sent, x: float, y: float) -> None:
    sent.drive_to(x, y)
    sent.end(GoalStatus.STATUS_SUCCEEDED)


def test_one_goal_per_corner_facing_the_way_on(driver: tuple[Nav2Driver, FakeNav2]) -> None:
    drv, nav2 = driver
    # (1, 0) is on a straight: no goal of its own; (2, 0) is a corner.
    drv.set_path([(0.0, 0.0), (1.0, 0.0), (2.0, 0.0), (2.0, 1.0)])
    assert [s.at for s in nav2.sent] == [(2.0, 0.0, pytest.approx(math.pi / 2))]
    nav2.sent[0].drive_to(1.2, 0.0)
    drv.tick(time.monotonic())
    assert drv._next == 2 and not drv.done  # past the straight's point
    arrive(nav2.sent[0], 2.0, 0.0)
    assert close(nav2.sent[1].at, (2.0, 1.0, math.pi / 2))  # the last: the way it came in
    assert not drv.done
    arrive(nav2.sent[1], 2.0, 1.0)
    assert drv.done and len(nav2.sent) == 2 and drv.fault == ''


def test_a_longer_grant_preempts_the_goal_to_the_hold_point(
    driver: tuple[Nav2Driver, FakeNav2],
) -> None:
    drv, nav2 = driver
    drv.set_path([(0.0, 0.0), (1.0, 0.0)])  # granted as far as a hold point at (1, 0)
    hold = nav2.sent[0]
    hold.drive_to(0.5, 0.0)
    drv.set_path([(0.5, 0.0), (1.0, 0.0), (3.0, 0.0)])  # more granted, on straight
    assert [s.at[:2] for s in nav2.sent] == [(1.0, 0.0), (3.0, 0.0)]
    assert not hold.cancelled  # Nav2 preempts it without a stop ...
    hold.end(GoalStatus.STATUS_ABORTED)
    assert drv.fault == ''  # ... and its end is no fault
    arrive(nav2.sent[1], 3.0, 0.0)
    assert drv.done


def test_another_robot_in_the_way_cancels_the_goal_until_it_is_clear(
    driver: tuple[Nav2Driver, FakeNav2],
) -> None:
    drv, nav2 = driver
    drv.set_path([(0.0, 0.0), (5.0, 0.0)])
    nav2.sent[0].drive_to(1.0, 0.0)
    drv.others['serve2'] = PoseReport('serve2', 1.8, 0.0, math.pi, 0.0, 0.27, '', time.time_ns())
    drv.tick(time.monotonic())
    assert nav2.sent[0].cancelled and drv.blocked_by == 'serve2'
    drv.tick(time.monotonic())
    assert len(nav2.sent) == 1
    del drv.others['serve2']
    drv.tick(time.monotonic())
    assert len(nav2.sent) == 2 and close(nav2.sent[1].at, (5.0, 0.0, 0.0))


def test_a_new_path_with_the_same_next_corner_keeps_its_goal(
    driver: tuple[Nav2Driver, FakeNav2],
) -> None:
    drv, nav2 = driver
    drv.set_path([(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)])
    nav2.sent[0].drive_to(0.5, 0.0)
    # The same corner (another index: a point on the way to it), further on from it.
    drv.set_path([(0.5, 0.0), (0.75, 0.0), (1.0, 0.0), (1.0, 2.0)])
    assert len(nav2.sent) == 1
    arrive(nav2.sent[0], 1.0, 0.15)  # reached by Nav2's tolerance, if not by ours
    assert close(nav2.sent[1].at, (1.0, 2.0, math.pi / 2))


def test_a_rejected_goal_is_a_fault_and_sent_again_after_retry_s(
    driver: tuple[Nav2Driver, FakeNav2],
) -> None:
    drv, nav2 = driver
    nav2.rejecting = True
    drv.set_path([(0.0, 0.0), (2.0, 0.0)])
    assert drv.fault == 'Nav2 rejected the goal to (2.00, 0.00)'
    drv.tick(time.monotonic())
    assert len(nav2.sent) == 1  # not before retry_s
    nav2.rejecting = False
    drv.tick(time.monotonic() + drv.retry_s)
    assert len(nav2.sent) == 2 and drv.fault  # until it gets somewhere
    arrive(nav2.sent[1], 2.0, 0.0)
    assert drv.done and drv.fault == ''


def test_goals_and_feedback_are_turned_by_where_the_floor_lies_on_the_map(
    demo_config: RestaurantConfig,
) -> None:
    # The floor's origin at (10, -2) of the map, its x axis along the map's y.
    with faked(demo_config, map_x=10.0, map_y=-2.0, map_yaw=math.pi / 2) as (drv, nav2):
        drv.set_path([(0.0, 0.0), (2.0, 0.0), (2.0, 1.0)])
        assert close(nav2.sent[0].at, (10.0, 0.0, math.pi))  # floor (2, 0) facing +y
        nav2.sent[0].drive_to(10.0, -1.0)  # map (10, -1) is floor (1, 0)
        assert close(drv.pose, (1.0, 0.0, -math.pi / 2))  # facing the map's x: the floor's -y
        arrive(nav2.sent[0], 10.0, 0.0)
        assert close(nav2.sent[1].at, (9.0, 0.0, math.pi))  # floor (2, 1), the way it came
        arrive(nav2.sent[1], 9.0, 0.0)
        assert drv.done and drv.fault == ''
