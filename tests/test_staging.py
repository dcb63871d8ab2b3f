"""A serving robot sent to wait at the pass (the dispatcher's `stage` command) leaves from
there with the next trip: the food does not wait for the drive from the dock."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from restaurant_interfaces.msg import RobotState

from orchestrator.config import RestaurantConfig
from orchestrator.settings import DEFAULT_CONFIG
from tests.api_helpers import wait_until
from tests.ros_helpers import RosClient, ros_client_fixture, start_robot_process, stop_process

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
