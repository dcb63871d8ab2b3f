"""The serving robot node with `driver:=nav2` against the tests' Nav2 stand-in
(tests/nav2_standin.py), each its own process, over DDS: a trip reaches its table and comes
back, with a pause (the goal cancelled, the robot standing) and a resume on the way; a goal
Nav2 aborts, a Nav2 that is not there and one that goes away are each reported as a fault
(mode fault, the reason as detail) that clears once the robot drives again; a robot paused in
a fault sends no goal until resumed."""

from __future__ import annotations

import math
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from action_msgs.msg import GoalStatus
from restaurant_interfaces.action import Deliver
from restaurant_interfaces.msg import RobotState

from orchestrator.config import RestaurantConfig
from orchestrator.settings import DEFAULT_CONFIG
from tests.nav2_standin import ABORT_MSG
from tests.ros_helpers import (
    GoalRun,
    RosClient,
    robot_namespace,
    ros_client_fixture,
    start_nav2_standin,
    start_robot_process,
    stop_process,
    wait_until,
)

pytestmark = pytest.mark.ros
SCALE = 5.0
ROBOT = 'serve1'
# The driver's `REACHED_M`: the stand-in stops on the goal itself.
TOLERANCE_M = 0.1
ACTION = f'{robot_namespace(ROBOT)}/navigate_to_pose'
FAULT = RobotState.MODE_FAULT
PAUSED = RobotState.MODE_PAUSED
# The robot's `nav2.retry_s` (wall seconds between tries of a goal Nav2 failed).
RETRY_S = 1.0


@pytest.fixture
def ros() -> Iterator[RosClient]:
    yield from ros_client_fixture('nav2_driver')


@pytest.fixture
def processes(
    tmp_path: Path, demo_config: RestaurantConfig
) -> Iterator[Callable[..., subprocess.Popen]]:
    """Starts the robot (`robot(**params)`) and stand-ins on its dock (`standin(**params)`);
    stops them."""
    started: list[subprocess.Popen] = []
    dock = demo_config.floor.points[demo_config.serving_robots[0].dock]

    def start(kind: str, **params: float) -> subprocess.Popen:
        if kind == 'robot':
            robot_params = {'driver': 'nav2', 'peer_wait_s': 0.0, 'nav2.retry_s': RETRY_S}
            robot_params |= params
            proc = start_robot_process(
                'serving', ROBOT, DEFAULT_CONFIG, SCALE, tmp_path, robot_params
            )
        else:
            log = tmp_path / 'nav2_standin.log'
            proc = start_nav2_standin(ROBOT, (dock.x, dock.y), SCALE, log, **params)
        started.append(proc)
        return proc

    yield start
    for proc in reversed(started):
        stop_process(proc)


def at_table(run: GoalRun, table_id: str, timeout: float = 90) -> Deliver.Feedback:
    def waiting() -> Deliver.Feedback | None:
        last = run.feedback[-1][1] if run.feedback else None
        ok = last is not None and last.stage == 'waiting_pickup' and last.next_stop == table_id
        return last if ok else None

    return wait_until(waiting, timeout, what=f'arrival at {table_id}')


def test_trip_with_a_pause_reaches_its_table_and_comes_back(
    processes: Callable[..., subprocess.Popen], ros: RosClient, demo_config: RestaurantConfig
) -> None:
    processes('standin')
    processes('robot')
    start = ros.wait_for_state(ROBOT, timeout=60)
    run = ros.deliver(ROBOT, 'nav2-trip', ['t01'])

    def away(s: RobotState) -> bool:
        return math.hypot(s.x - start.x, s.y - start.y) > 0.3

    ros.wait_for_state(ROBOT, away, timeout=60)
    assert ros.control(ROBOT, 'pause').accepted
    # The goal is cancelled: the robot stands (two heartbeats alike), and stays.
    states = ros.watch_state(ROBOT)

    def settled() -> tuple[float, float] | None:
        got = [(s.x, s.y) for _, s in states.snapshot()[-2:] if s.mode == RobotState.MODE_PAUSED]
        return got[0] if len(got) == 2 and got[0] == got[1] else None

    stood = wait_until(settled, 30, what='the robot standing')
    time.sleep(1.0)
    latest = states.latest()
    assert latest is not None and (latest.x, latest.y) == stood
    # On its way, not at the table: the goals stopped with the pause.
    stop = demo_config.floor.points[demo_config.table_by_id['t01'].waypoint]
    assert math.hypot(stood[0] - stop.x, stood[1] - stop.y) > 1.0
    assert not [fb for _, fb in run.feedback if fb.stage == 'waiting_pickup']
    assert ros.control(ROBOT, 'resume').accepted
    fb = at_table(run, 't01')
    assert math.hypot(fb.x - stop.x, fb.y - stop.y) <= TOLERANCE_M
    assert ros.confirm_pickup(ROBOT, 'nav2-trip', 't01').accepted
    result = run.result(120)
    assert (run.status(), result.outcome) == (
        GoalStatus.STATUS_SUCCEEDED,
        Deliver.Result.OUTCOME_COMPLETED,
    )
    home = ros.wait_for_state(ROBOT, lambda s: s.mode == RobotState.MODE_IDLE, timeout=60)
    assert math.hypot(home.x - start.x, home.y - start.y) <= TOLERANCE_M


def test_a_goal_nav2_aborts_is_a_fault_until_the_robot_drives_again(
    processes: Callable[..., subprocess.Popen], ros: RosClient, demo_config: RestaurantConfig
) -> None:
    processes('standin', abort_goals=1)
    processes('robot')
    ros.wait_for_state(ROBOT, timeout=60)
    run = ros.deliver(ROBOT, 'nav2-abort', ['t01'])
    fault = ros.wait_for_state(ROBOT, lambda s: s.mode == FAULT, timeout=60)
    assert 'Nav2 aborted the goal' in fault.detail and ABORT_MSG in fault.detail, fault.detail
    # Sent again after nav2.retry_s, the goal is taken: the fault clears on the way.
    at_table(run, 't01')
    assert ros.wait_for_state(ROBOT, timeout=10).mode == RobotState.MODE_BUSY


def test_a_robot_paused_in_a_fault_tries_again_only_once_resumed(
    processes: Callable[..., subprocess.Popen], ros: RosClient, demo_config: RestaurantConfig
) -> None:
    """Nav2 aborts every goal; the operator pauses the robot, which tries one every
    `nav2.retry_s`: it reports paused (the fault in its detail) and sends no goal while paused.
    Resumed (Nav2 fixed meanwhile: a new one that aborts only its first goal), it tries again at
    once, and drives on to its table."""
    standin = processes('standin', abort_goals=1000)
    processes('robot')
    ros.wait_for_state(ROBOT, timeout=60)
    run = ros.deliver(ROBOT, 'nav2-paused-fault', ['t01'])
    ros.wait_for_state(ROBOT, lambda s: s.mode == FAULT and f'{ABORT_MSG} #2' in s.detail, 60)
    assert ros.control(ROBOT, 'pause').accepted
    paused = ros.wait_for_state(ROBOT, lambda s: s.mode == PAUSED, timeout=10)
    assert paused.detail.startswith('paused by operator (Nav2 aborted the goal'), paused.detail
    states = ros.watch_state(ROBOT)

    def since(t0: float) -> list[RobotState]:
        return [s for t, s in states.snapshot() if t > t0]

    # Three tries' time, heartbeats alike: a goal sent would be aborted (a new number in the
    # detail) or drive (the pose).
    paused_at = time.monotonic()
    time.sleep(3 * RETRY_S)
    seen = {(s.mode, s.detail, s.x, s.y) for s in since(paused_at)}
    assert seen == {(PAUSED, paused.detail, paused.x, paused.y)}, seen
    stop_process(standin)
    processes('standin', abort_goals=1)
    resumed_at = time.monotonic()
    assert ros.control(ROBOT, 'resume').accepted
    at_table(run, 't01')
    # On the way it tried the goal at once: the new Nav2 aborted it (its first).
    tried = {s.detail for s in since(resumed_at) if s.mode == FAULT}
    assert any(d.endswith(f'{ABORT_MSG} #1') for d in tried), tried


def test_a_nav2_that_is_not_there_or_goes_away_is_a_fault(
    processes: Callable[..., subprocess.Popen], ros: RosClient, demo_config: RestaurantConfig
) -> None:
    processes('robot')
    start = ros.wait_for_state(ROBOT, timeout=60)
    ros.deliver(ROBOT, 'nav2-absent', ['t01'])
    fault = ros.wait_for_state(ROBOT, lambda s: s.mode == FAULT, timeout=60)
    assert fault.detail == f'no Nav2 action server {ACTION}'
    # Nav2 comes up (slowly driving): the robot sets off and the fault clears.
    standin = processes('standin', speed=0.1)

    def driving(s: RobotState) -> bool:
        return s.mode == RobotState.MODE_BUSY and math.hypot(s.x - start.x, s.y - start.y) > 0.05

    ros.wait_for_state(ROBOT, driving, timeout=60)
    stop_process(standin)
    gone = ros.wait_for_state(ROBOT, lambda s: s.mode == FAULT, timeout=60)
    assert gone.detail == f'Nav2 action server {ACTION} went away'
