"""Lanes on the floor graph (robot_nodes/lanes.py): right-hand lanes in wide aisles, the centre
line in narrow ones, corners where the lane lines meet, routes ending on their waypoint."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest

from orchestrator.cli import main
from orchestrator.config import RestaurantConfig, load_restaurant
from orchestrator.settings import DEFAULT_CONFIG
from orchestrator.traffic import two_lanes
from robot_nodes.drivers.neighbours import Obstacle, clearance
from robot_nodes.floor_world import FloorWorld
from robot_nodes.lanes import lane_path, start_waypoint
from robot_nodes.parking import parked_in_the_way
from tests.api_helpers import config_with

SEEDS = DEFAULT_CONFIG.parent

R = 0.27


def _samples(points: list[tuple[float, float]], step: float = 0.01) -> list[tuple[float, float]]:
    out = []
    for (ax, ay), (bx, by) in itertools.pairwise(points):
        n = max(1, math.ceil(math.hypot(bx - ax, by - ay) / step))
        out += [(ax + (bx - ax) * i / n, ay + (by - ay) * i / n) for i in range(n + 1)]
    return out


def _gap(
    p: list[tuple[float, float]], q: list[tuple[float, float]], xs: tuple[float, float] = (0, 99)
) -> float:
    """Closest two paths come, over their stretches between x = xs[0] and xs[1]."""
    qs = [b for b in _samples(q, 0.05) if xs[0] < b[0] < xs[1]]
    return min(math.dist(a, b) for a in _samples(p, 0.05) if xs[0] < a[0] < xs[1] for b in qs)


def _point(cfg: RestaurantConfig, wp: str) -> tuple[float, float]:
    w = cfg.floor.points[wp]
    return (w.x, w.y)


def test_head_on_robots_on_a_wide_aisle_keep_apart(demo_config: RestaurantConfig) -> None:
    # The corridor (1.5 m) is two lanes for 0.27 m robots; the table lanes (0.9 m) are not.
    assert two_lanes(1.5, R) and not two_lanes(0.9, R)
    east = ['c1_5', 'c5_5', 'c9_5', 'c10_0', 'c13_5']
    west = east[::-1]
    a = lane_path(demo_config, east, R, _point(demo_config, east[0]))
    b = lane_path(demo_config, west, R, _point(demo_config, west[0]))
    # Both start and end on their waypoints; in between each keeps right: 1.5 / 4 m off the
    # centre line (y = 11), eastbound on the south side, westbound on the north.
    assert a[0] == b[-1] == _point(demo_config, 'c1_5')
    assert a[-1] == b[0] == _point(demo_config, 'c13_5')
    assert all(y == pytest.approx(11 - 0.375) for _, y in a[1:-1])
    assert all(y == pytest.approx(11 + 0.375) for _, y in b[1:-1])
    assert _gap(a[1:-1], b[1:-1]) >= 2 * R


def test_robots_crossing_over_the_corridor_keep_apart(demo_config: RestaurantConfig) -> None:
    # One goes from its dock to table 3, the other from table 2 back to its dock: they meet
    # head-on on the corridor between the junctions at c1_5 (where the docks' aisles meet)
    # and c9_5 (where one crosses the other's lane out of table 2's), and each turns out of
    # a table lane into its own lane.
    out = demo_config.floor.path('dock1', 'stop-t03')
    back = demo_config.floor.path('stop-t02', 'dock2')
    a = lane_path(demo_config, out, R, _point(demo_config, 'dock1'))
    b = lane_path(demo_config, back, R, _point(demo_config, 'stop-t02'))
    assert _gap(a, b, (1.5 + 2 * R, 9.5 - 2 * R)) >= 2 * R
    # Out of the narrow table lane (x = 9.5) on its centre line, into the westbound lane.
    assert b[:3] == [(9.5, 9.5), (9.5, pytest.approx(11.375)), (5.5, pytest.approx(11.375))]
    # Into table 3's narrow lane from the eastbound lane: the corner is where the lines meet.
    assert a[-2:] == [(13.5, pytest.approx(10.625)), (13.5, 9.5)]


def test_narrow_aisles_are_driven_on_the_centre_line(demo_config: RestaurantConfig) -> None:
    route = ['stop-t01', 'stop-t05', 'stop-t09', 'stop-t13']
    assert lane_path(demo_config, route, R, (5.5, 9.5)) == [
        (5.5, 9.5),
        (5.5, 7.0),
        (5.5, 4.5),
        (5.5, 2.0),
    ]
    # Nor are the aisles to a dock or charger (one robot's own), nor the corridor for wider
    # robots.
    assert lane_path(demo_config, ['c1_5', 'dock2'], R, (1.5, 11.0)) == [(1.5, 11.0), (2.0, 12.2)]
    wide = lane_path(demo_config, ['c1_5', 'c5_5'], 0.4, (1.5, 11.0))
    assert wide == [(1.5, 11.0), (5.5, 11.0)]


def test_a_robot_part_way_along_joins_its_lane_where_it_is(
    demo_config: RestaurantConfig,
) -> None:
    # Halted half-way between c1_5 and c5_5 and sent on: no driving back to c1_5.
    path = lane_path(demo_config, ['c1_5', 'c5_5', 'c9_5'], R, (3.4, 11.0))
    assert path[1] == (pytest.approx(3.4), pytest.approx(10.625))
    assert path[-1] == (9.5, 11.0)
    assert lane_path(demo_config, ['pass'], R, (9.9, 12.1)) == [(9.9, 12.1), (10.0, 12.2)]


def test_a_route_starts_from_an_end_of_the_aisle_the_robot_is_on(
    demo_config: RestaurantConfig,
) -> None:
    floor = demo_config.floor
    # On the corridor beside dock3 (its nearest waypoint): on to c5_5 towards the pass, back
    # to c1_5 towards dock1, never up dock3's aisle.
    assert start_waypoint(floor, (3.4, 11.38), 'pass') == 'c5_5'
    assert start_waypoint(floor, (3.4, 11.38), 'dock1') == 'c1_5'
    # On a waypoint: from it, whichever of its aisles leads on.
    assert start_waypoint(floor, (2.0, 12.2), 'pass') == 'dock2'
    assert start_waypoint(floor, (10.0, 12.2), 't01') == 'pass'


def test_a_robot_between_the_docks_is_not_routed_into_one_held_by_another(
    demo_config: RestaurantConfig,
) -> None:
    # Stopped beside dock2's aisle (nearest: dock2, where serve2 stands) and sent to the pass:
    # routed from dock2 it stepped across to that aisle's lane, into serve2, and waited there
    # for good (serve2 is home, so it does not make way).
    at = (2.3, 11.55)
    route = demo_config.floor.path(start_waypoint(demo_config.floor, at, 'pass'), 'pass')
    assert route[0] != 'dock2'
    serve2 = Obstacle('serve2', 2.0, 12.2, R)
    free, _ = clearance(lane_path(demo_config, route, R, at), R, [serve2])
    assert free == math.inf


def test_every_route_keeps_footprints_off_tables_and_walls(
    demo_config: RestaurantConfig,
) -> None:
    world = FloorWorld(demo_config)
    stops = [w.id for w in demo_config.floor.waypoints if w.kind != 'junction']
    for a, b in itertools.permutations(stops, 2):
        route = demo_config.floor.path(a, b)
        for x, y in _samples(lane_path(demo_config, route, R, _point(demo_config, a)), 0.05):
            near = [o.name for o in world.obstacles if o.distance(x, y) < R]
            assert not near, (a, b, (x, y), near)


@pytest.mark.parametrize('seed', ['restaurant.yaml', 'harbor.yaml'])
def test_robots_parked_on_docks_and_chargers_are_out_of_everyone_s_way(seed: str) -> None:
    # dock3 used to be 1 m from dock2 on aisles fanning out of one junction: a diffdrive serve3
    # leaving dock3 stopped for serve2 parked on dock2, holding the junction the others waited
    # for, for good. (The flagship passes too: 40 s of checking, run by hand.)
    assert parked_in_the_way(load_restaurant(SEEDS / seed)) == []


def test_a_dock_in_another_robot_s_way_is_named(
    demo_config: RestaurantConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # dock3 back where it was, 1 m from dock2 (README "Traffic control").
    waypoints = demo_config.floor.waypoints
    dock3 = next(i for i, w in enumerate(waypoints) if w.id == 'dock3')
    x = demo_config.floor.points['dock2'].x + 1.0
    path = config_with(tmp_path, {f'floor.waypoints.{dock3}.x': x})
    (problem,) = parked_in_the_way(load_restaurant(path))
    assert problem.startswith('floor.waypoints dock2: a robot parked here is in the way of ')
    assert '→ dock3' in problem
    # `robodine config check` refuses the file, naming it and the spot.
    assert main(['config', 'check', str(path)]) == 1
    assert f'error: {path}: floor.waypoints dock2: ' in capsys.readouterr().err
