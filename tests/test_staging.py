"""A serving robot sent to wait at the pass (the dispatcher's `stage` command) leaves from
there with the next trip: the food does not wait for the drive from the dock. Standing there
between trips, it makes way for another robot sent to the pass."""

from __future__ import annotations

import math
import subprocess
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from restaurant_interfaces.msg import RobotState

from orchestrator.bringup import traffic_controller_command
from orchestrator.config import RestaurantConfig, Waypoint
from orchestrator.settings import DEFAULT_CONFIG
from tests.api_helpers import wait_until
from tests.ros_helpers import (
    RosClient,
    keys_for,
    ros_child_env,
    ros_client_fixture,
    start_robot_process,
    stop_process,
)

pytestmark = pytest.mark.ros


@pytest.fixture
def ros() -> Iterator[RosClient]:
    yield from ros_client_fixture('staging_test')


def test_a_staged_robot_leaves_from_the_pass(
    ros: RosClient, tmp_path: Path, demo_config: RestaurantConfig
) -> None:
    pass_point = demo_config.floor.pass_point
    serve = start_robot_process(
        'serving', 'serve3', DEFAULT_CONFIG, 20.0, tmp_path, {'pickup_timeout_s': 3000.0}
    )
    cook = start_robot_process('cooking', 'noodle1', DEFAULT_CONFIG, 20.0, tmp_path)
    try:
        assert not ros.control('noodle1', 'stage').accepted  # cooking robots stay put
        reply = ros.control('serve3', 'stage')
        assert reply.accepted, reply.message
        ros.wait_for_state(
            'serve3',
            lambda m: (
                m.mode == RobotState.MODE_IDLE
                and math.hypot(m.x - pass_point.x, m.y - pass_point.y) < 0.3
            ),
            timeout=60,
        )
        run = ros.deliver('serve3', 'trstage', ['t01'])
        assert run.is_accepted()
        wait_until(lambda: 'to_table' in run.stages(), 30, what='on its way to t01')
        assert 'to_pass' not in run.stages()
        run.cancel()
    finally:
        stop_process(serve)
        stop_process(cook)


def _logged(log: Path, line: str) -> bool:
    return log.exists() and line in log.read_text(errors='replace')


@pytest.mark.parametrize('traffic', [False, True], ids=['free', 'traffic'])
def test_a_robot_waiting_at_the_pass_makes_way_for_another(
    ros: RosClient,
    tmp_path: Path,
    demo_config: RestaurantConfig,
    monkeypatch: pytest.MonkeyPatch,
    traffic: bool,
) -> None:
    # Two dispatchers at once, or the staged robot short of charge: the trip went to another
    # robot. Before, serve2 stopped for serve3 short of the pass and both stood for good.
    pass_point, dock = demo_config.floor.pass_point, demo_config.floor.points['dock3']
    monkeypatch.setenv('ROBODINE_TRAFFIC_CONTROL', str(traffic).lower())
    procs = []
    if traffic:
        keys = keys_for(r.id for r in demo_config.serving_robots)
        command = traffic_controller_command(DEFAULT_CONFIG, 20.0, keys)
        procs.append(subprocess.Popen(command, env=ros_child_env()))
    params = {'pickup_timeout_s': 3000.0}
    for robot_id in ('serve3', 'serve2'):
        procs.append(
            start_robot_process('serving', robot_id, DEFAULT_CONFIG, 20.0, tmp_path, params)
        )
    try:
        # Each must know where the other is before one drives: beside a CPU hog, serve2 once
        # set off before it had heard of serve3, drove through it to t01, and serve3 (never
        # asked to make way) stayed at the pass.
        for me, other in [('serve2', 'serve3'), ('serve3', 'serve2')]:
            wait_until(partial(_logged, tmp_path / f'{me}.log', f'sees {other}'), 60)
        assert ros.control('serve3', 'stage').accepted
        ros.wait_for_state(
            'serve3', lambda m: near(m, pass_point) and m.mode == RobotState.MODE_IDLE, 60
        )
        run = ros.deliver('serve2', 'trway', ['t01'])
        assert run.is_accepted()
        wait_until(lambda: 'waiting_pickup' in run.stages(), 60, what='serve2 at t01')
        ros.wait_for_state(
            'serve3', lambda m: near(m, dock) and m.mode == RobotState.MODE_IDLE, 60
        )
    finally:
        for proc in procs:
            stop_process(proc)


def near(m: RobotState, point: Waypoint) -> bool:
    return math.hypot(m.x - point.x, m.y - point.y) < 0.3
