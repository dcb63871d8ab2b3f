"""The operator's closures alone (orchestrator/closures.py and the traffic controller's use of
them): names, the way round, what the fleet cannot work without, which robots re-plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.closures import (
    ClosureError,
    Closures,
    closure_name,
    must_replan,
    refusal,
    route_avoiding,
    unreachable_tables,
)
from orchestrator.config import RestaurantConfig, load_restaurant
from orchestrator.traffic import Ask, Controller, TrafficMap
from robot_nodes.traffic_gate import TrafficGate
from tests.test_reroute import loop_restaurant
from tests.test_traffic import RADIUS, through_lane


def test_names_are_checked_against_the_floor() -> None:
    floor = through_lane()
    assert closure_name(floor, 'w1', 'pass') == 'pass~w1'
    assert closure_name(floor, 'mid') == 'mid'
    with pytest.raises(ClosureError) as e:
        closure_name(floor, 'w1', 'nowhere')
    assert (e.value.what, e.value.values) == ('no_waypoint', {'waypoint': 'nowhere'})
    with pytest.raises(ClosureError) as e:
        closure_name(floor, 'w1', 'e2')  # both exist, no aisle joins them
    assert (e.value.what, e.value.values) == ('no_aisle', {'a': 'w1', 'b': 'e2'})
    with pytest.raises(ClosureError):
        Closures.of(floor, ['a~b~c'])
    closed = Closures.of(floor, ['w1~e1', 'mid'])
    assert closed.names == ['e1~w1', 'mid']
    # Kept under another floor plan: the stale name alone is left out.
    assert Closures.known(floor, ['mid', 'old~gone']) == (
        Closures.of(floor, ['mid']),
        ['old~gone'],
    )
    # An aisle both ways; a waypoint only onto it (a robot on it may leave).
    assert closed.blocks('e1', 'w1') == closed.blocks('w1', 'e1') == 'e1~w1'
    assert closed.blocks('lw', 'mid') == 'mid' and not closed.blocks('mid', 'le')


def test_the_way_round_and_which_robots_replan() -> None:
    floor = through_lane()
    north = Closures.of(floor, ['w1~e1'])
    assert route_avoiding(floor, 'dock1', 'dock2', Closures()) == ['dock1', 'w1', 'e1', 'dock2']
    assert route_avoiding(floor, 'dock1', 'dock2', north) == [
        *('dock1', 'w1', 'wm', 'lw', 'mid', 'le', 'em', 'e1', 'dock2')
    ]
    both = Closures.of(floor, ['w1~e1', 'mid'])
    assert route_avoiding(floor, 'dock1', 'dock2', both) is None
    route = ('dock1', 'w1', 'e1', 'dock2')
    routes = {'ahead': (route, 0), 'granted_past': (route, 2), 'elsewhere': (('w2', 'wm'), 0)}
    # Only a robot that has the closure still ahead of what it was granted re-plans.
    assert must_replan(routes, north) == {'ahead': 'e1~w1'}


def test_what_the_fleet_cannot_work_without(demo_config: RestaurantConfig) -> None:
    floor = demo_config.floor
    closed_pass = refusal(demo_config, Closures.of(floor, ['pass']))
    assert closed_pass is not None and closed_pass.what == 'closure_pass'
    cut = refusal(demo_config, Closures.of(floor, ['c9_5~c10_0']))
    assert cut is not None and cut.what == 'closure_cuts_dock'
    assert cut.values == {'dock': 'dock1', 'robot': 'serve1'}
    # A table lane: the fleet works on; its table (and the lane's behind it) wait.
    lane = Closures.of(floor, ['c5_5~stop-t01'])
    assert refusal(demo_config, lane) is None
    cut_off = unreachable_tables(demo_config, lane)
    assert cut_off['t05'] == 'c5_5~stop-t01' and 't01' in cut_off and 't02' not in cut_off
    assert unreachable_tables(demo_config, Closures()) == {}


def test_a_cut_off_table_is_named_with_the_closure_that_cuts_it_off(tmp_path: Path) -> None:
    cfg = load_restaurant(loop_restaurant(tmp_path))
    # t02's shortest way crosses the east side first, but the way round is open.
    both = Closures.of(cfg.floor, ['ne~se', 'se~t2'])
    assert refusal(cfg, both) is None
    assert unreachable_tables(cfg, both) == {'t02': 'se~t2'}


def test_the_controller_sends_a_robot_round_a_closure_at_once() -> None:
    floor = through_lane()
    c = Controller(TrafficMap.of(floor, RADIUS), replan_after_s=10.0, detour_max_m=1.0)
    c.closures = Closures.of(floor, ['w1~e1'])
    route = tuple(floor.path('dock1', 'dock2'))
    at_dock = Ask('a', route, 0, False, 0)
    assert c.crossing() == {}
    c.ask(at_dock, 0.0)
    assert c.crossing() == {'a': 'e1~w1'}
    # At once, and however much longer than detour_max_m (a closure must be avoided).
    round_ = c.replan(at_dock, 0.0)
    assert round_.route == ('dock1', 'w1', 'wm', 'lw', 'mid', 'le', 'em', 'e1', 'dock2')
    assert c.replans['a'] == 1 and c.ask(round_, 0.0) > 0 and 'a' not in c.at_closure


def test_with_no_way_round_a_robot_waits_before_the_closure() -> None:
    floor = through_lane()
    c = Controller(TrafficMap.of(floor, RADIUS), replan_after_s=10.0)
    c.closures = Closures.of(floor, ['w1~e1', 'mid'])
    route = tuple(floor.path('dock1', 'dock2'))
    at_dock = Ask('a', route, 0, False, 0)
    assert c.replan(at_dock, 0.0) is at_dock
    # Never granted the closed aisle: it waits where it is, for no robot.
    assert c.ask(at_dock, 0.0) == 0
    assert c.at_closure == {'a': 'e1~w1'} and 'a' in c.waiting and c.waits_for('a') == ''
    c.closures = Closures()  # reopened
    assert c.ask(at_dock, 1.0) > 0 and c.at_closure == {}


def test_a_robot_waits_on_its_waypoint_not_on_a_closed_aisle() -> None:
    floor = through_lane()
    gate = TrafficGate('a', TrafficMap.of(floor, RADIUS), lambda nodes, at: [at], lambda a, b: 0)
    gate.start(('w1', 'e1', 'dock2'))
    w1 = (floor.points['w1'].x, floor.points['w1'].y)
    assert len(gate.path(w1)) > 1  # to its hold point on the aisle to e1, short of e1
    gate.closures = Closures.of(floor, ['w1~e1'])
    assert gate.path(w1) == [w1]
