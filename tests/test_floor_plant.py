"""Floor plant physics and collision detection (pure logic, no ROS traffic)."""

from __future__ import annotations

import math

import pytest

from orchestrator.config import RestaurantConfig
from robot_nodes.floor_world import FloorWorld, integrate


def test_integrate_drives_straight_and_arcs() -> None:
    assert integrate((0.0, 0.0, 0.0), 1.0, 0.0, 2.0) == pytest.approx((2.0, 0.0, 0.0))
    # A quarter circle of radius 1 ends one radius ahead and one to the left, facing +y.
    x, y, th = integrate((0.0, 0.0, 0.0), 1.0, 1.0, math.pi / 2)
    assert (x, y, th) == pytest.approx((1.0, 1.0, math.pi / 2))


def test_robots_start_at_their_docks_without_contacts(demo_config: RestaurantConfig) -> None:
    world = FloorWorld(demo_config)
    assert world.step(0.1, 0.1) == []
    dock1 = demo_config.floor.points['dock1']
    assert world.bodies['serve1'].pose[:2] == (dock1.x, dock1.y)
    assert world.odometry(world.bodies['serve1']) == (0.0, 0.0, 0.0)


def test_table_stops_are_collision_free(demo_config: RestaurantConfig) -> None:
    world = FloorWorld(demo_config, ['serve1'])
    body = world.bodies['serve1']
    for w in demo_config.floor.waypoints:
        body.pose = (w.x, w.y, 0.0)
        assert world.contacts(body) == set(), w.id


def test_driving_into_a_table_is_one_collision(demo_config: RestaurantConfig) -> None:
    world = FloorWorld(demo_config, ['serve1'])
    body = world.bodies['serve1']
    # At t01's stop (5.5, 9.5), facing the table at (4.5, 9.5) one metre west.
    body.pose = (5.5, 9.5, math.pi)
    body.v = 0.5
    hits = []
    for i in range(12):  # 0.6 m: onto the table's edge
        hits += world.step(0.1, i * 0.1)
    assert [h['with'] for h in hits] == ['table:t01']
    # Contact began when the footprint reached the table's edge: 1.0 - 0.4 - 0.27 = 0.33 m.
    assert hits[0]['x'] == pytest.approx(5.5 - 0.33, abs=0.06)
    # Backing off and driving in again is a second collision.
    body.v = -0.5
    for i in range(12):
        world.step(0.1, 2 + i * 0.1)
    body.v = 0.5
    for i in range(12):
        world.step(0.1, 4 + i * 0.1)
    assert len(world.collisions) == 2


def test_one_coarse_tick_still_sees_what_it_drove_through(demo_config: RestaurantConfig) -> None:
    world = FloorWorld(demo_config, ['serve1'])
    body = world.bodies['serve1']
    # Heading north from the aisle at y=11 through the kitchen wall at y=12.8 within one coarse
    # tick (2.5 simulated s, as at 125x and 50 Hz): the sub-steps see the wall it ends up beyond.
    body.pose, body.v = (10.0, 11.0, math.pi / 2), 1.0
    hits = world.step(2.5, 2.5)
    assert [h['with'] for h in hits] == ['wall:4']
    assert hits[0]['sim_s'] == pytest.approx(1.53, abs=0.06)
    assert body.pose[1] == pytest.approx(13.5)


def test_robots_meeting_head_on_count_once(demo_config: RestaurantConfig) -> None:
    world = FloorWorld(demo_config, ['serve1', 'serve2'])
    a, b = world.bodies['serve1'], world.bodies['serve2']
    a.pose, a.v = (8.0, 11.0, 0.0), 0.5
    b.pose, b.v = (10.0, 11.0, math.pi), 0.5
    for i in range(30):
        world.step(0.1, i * 0.1)
    assert [(h['robot_id'], h['with']) for h in world.collisions] == [('serve1', 'robot:serve2')]
    # Both sides' motion is reported: here both drove into each other.
    hit = world.collisions[0]
    assert (hit['v'], hit['theta'], hit['other']['v']) == (0.5, 0.0, 0.5)
    assert hit['other']['x'] - hit['x'] == pytest.approx(a.radius + b.radius, abs=0.06)
    assert world.bodies['serve1'].odometer_m == pytest.approx(1.5)
