"""What a serving robot keeps of the shared poses, without DDS: only its peers' (the topic is
open to anyone), and its first drive waits until it has heard them or given up on them."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from rclpy.node import Node
from std_msgs.msg import String

from orchestrator.config import RestaurantConfig
from robot_nodes.drivers.neighbours import PeerWait, PoseReport
from robot_nodes.drivers.sim import SimMotionDriver
from tests.ros_helpers import bare_node


@pytest.fixture
def node() -> Iterator[Node]:
    with bare_node('peers_test') as node:
        yield node


def _pose(robot_id: str) -> String:
    report = PoseReport(robot_id, 1.0, 2.0, 0.0, 0.0, 0.27, '', time.time_ns())
    return String(data=report.encode())


def _driver(node: Node, cfg: RestaurantConfig) -> SimMotionDriver:
    serve1 = next(r for r in cfg.serving_robots if r.id == 'serve1')
    return SimMotionDriver(node, serve1, 1.0, (0.0, 0.0, 0.0))


def test_a_driver_told_its_peers_keeps_only_their_poses(
    node: Node, demo_config: RestaurantConfig
) -> None:
    driver = _driver(node, demo_config)
    assert driver._board is not None
    driver.set_peers(['serve2', 'serve3'])
    for robot_id in ('rogue', 'serve2', 'serve1', 'rogue2', 'rogue'):
        driver._board._on_pose(_pose(robot_id))
    assert list(driver.others) == ['serve2']
    assert driver._board.ignored == 3
    driver.close()


def test_a_driver_never_told_its_peers_keeps_every_robots_pose(
    node: Node, demo_config: RestaurantConfig
) -> None:
    driver = _driver(node, demo_config)
    assert driver._board is not None
    for robot_id in ('rogue', 'serve2', 'serve1'):
        driver._board._on_pose(_pose(robot_id))
    assert sorted(driver.others) == ['rogue', 'serve2']
    driver.close()


def test_the_first_drive_waits_until_every_peer_is_heard() -> None:
    wait = PeerWait(['serve2', 'serve3'], 100.0, 3.0)
    assert not wait.update(set(), 100.1)
    assert not wait.update({'serve2'}, 101.0)
    assert wait.unheard({'serve2'}) == ['serve3']
    assert wait.update({'serve2', 'serve3'}, 101.1)
    # Over for good: later drives never wait.
    assert wait.update(set(), 101.2)


def test_the_first_drive_gives_up_on_a_peer_never_heard() -> None:
    wait = PeerWait(['serve2', 'serve3'], 100.0, 3.0)
    assert not wait.update({'serve3'}, 102.9)
    assert wait.update({'serve3'}, 103.0)
    assert wait.unheard({'serve3'}) == ['serve2']
    # Alone on the floor: nobody to wait for.
    assert PeerWait([], 100.0, 3.0).update(set(), 100.0)
