"""Traffic control alone: the resources of a floor, and a fleet played step by step against
the controller — never two robots on one resource, every robot gets where it is going."""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from orchestrator.config import Floor, RestaurantConfig, load_restaurant
from orchestrator.dispatch.scheduling import drive_s
from orchestrator.traffic import Ask, Controller, RouteError, TrafficMap, detour, lane_offset
from robot_nodes.drivers.neighbours import Obstacle, clearance
from robot_nodes.drivers.sim import SimMotionDriver
from robot_nodes.lanes import lane_path
from robot_nodes.traffic_gate import TrafficGate, lead_m

RADIUS = 0.27
# The rush's time scale, and a serving robot node's tick (real seconds).
RUSH_SCALE, TICK_S = 60.0, 0.05


def through_lane() -> Floor:
    """A wide loop (north corridor, west and east sides) whose south half is one 0.9 m lane
    open at both ends with a table in its middle; docks at the four corners."""
    w = [
        {'id': 'pass', 'x': 0.0, 'y': 6.0, 'kind': 'pass'},
        {'id': 'w1', 'x': 0.0, 'y': 4.0},
        {'id': 'w2', 'x': 0.0, 'y': 0.0},
        {'id': 'e1', 'x': 8.0, 'y': 4.0},
        {'id': 'e2', 'x': 8.0, 'y': 0.0},
        {'id': 'mid', 'x': 4.0, 'y': 2.0, 'kind': 'table'},
        {'id': 'lw', 'x': 2.0, 'y': 2.0},
        {'id': 'le', 'x': 6.0, 'y': 2.0},
        {'id': 'dock1', 'x': -2.0, 'y': 4.0, 'kind': 'dock'},
        {'id': 'dock2', 'x': 10.0, 'y': 4.0, 'kind': 'dock'},
        {'id': 'dock3', 'x': -2.0, 'y': 0.0, 'kind': 'dock'},
        {'id': 'dock4', 'x': 10.0, 'y': 0.0, 'kind': 'dock'},
    ]
    wide = [('pass', 'w1'), ('w1', 'w2'), ('w1', 'e1'), ('e1', 'e2')]
    wide += [('dock1', 'w1'), ('dock2', 'e1'), ('dock3', 'w2'), ('dock4', 'e2')]
    # The lane: from the west corridor's middle to the east one's, narrow all along.
    w += [{'id': 'wm', 'x': 0.0, 'y': 2.0}, {'id': 'em', 'x': 8.0, 'y': 2.0}]
    wide = [e for e in wide if e not in (('w1', 'w2'), ('e1', 'e2'))]
    wide += [('w1', 'wm'), ('wm', 'w2'), ('e1', 'em'), ('em', 'e2')]
    narrow = [('wm', 'lw'), ('lw', 'mid'), ('mid', 'le'), ('le', 'em')]
    aisles = [{'a': a, 'b': b, 'width_m': 1.5} for a, b in wide]
    aisles += [{'a': a, 'b': b, 'width_m': 0.9} for a, b in narrow]
    return Floor.model_validate(
        {'width_m': 14, 'depth_m': 8, 'waypoints': w, 'aisles': aisles, 'min_aisle_m': 0.7}
    )


def test_resources_of_the_demo_floor(demo_config: RestaurantConfig) -> None:
    tm = TrafficMap.of(demo_config.floor, RADIUS)
    lanes = sorted(set(tm.stretch_of.values()))
    # Four table lanes and the chargers' corner; the 1.5 m corridor is two lanes, unreserved.
    assert len(lanes) == 5
    assert (
        tm.inside['stop-t13']
        == tm.inside['stop-t01']
        == tm.stretch_of[frozenset(('c5_5', 'stop-t01'))]
    )
    assert 'cj2' in tm.inside and 'chg2' not in tm.inside  # a robot on its charger is aside
    assert {'c5_5', 'c10_0', 'pass'} <= tm.junctions
    assert not {'dock1', 'chg1', 'stop-t01'} & tm.junctions
    # c9_5 and c10_0, 0.5 m apart, are one spot: robots on both would touch.
    assert tm.node_needs('c9_5') == tm.node_needs('c10_0') != tm.node_needs('pass')
    route = demo_config.floor.path('pass', 'stop-t05')
    assert route == ['pass', 'c10_0', 'c9_5', 'c5_5', 'stop-t01', 'stop-t05']
    # It may wait only on the 4 m corridor aisle before c5_5, and at the table.
    assert tm.stops(route) == [2, 5]
    with pytest.raises(RouteError, match='no drivable aisle'):
        tm.check(['pass', 'c5_5'])
    with pytest.raises(RouteError, match='unknown waypoint'):
        Controller(tm).ask(Ask('serve1', ('pass', 'nowhere'), 0, False, 0), 0.0)
    with pytest.raises(RouteError, match='progress'):
        Controller(tm).ask(Ask('serve1', tuple(route), 3, False, 1), 0.0)


@pytest.mark.parametrize('seed', ['restaurant.yaml', 'flagship.yaml'])
def test_no_hold_point_is_in_the_way_over_its_junction(seeds_dir: Path, seed: str) -> None:
    # A robot waiting short of a junction must leave room for every robot driving over it by
    # the other aisles, in their lanes (lane paths and the obstacle stop's own geometry): else
    # the one holding the junction stops for the one waiting for it, for good. Both seed floors
    # had such hold points (c5_5 -> c1_5 beside the way to dock3; c13_5 -> c10_0 beside the
    # way into the pass): a Saturday rush under traffic control ended with two robots stuck.
    cfg = load_restaurant(seeds_dir / seed)
    floor, tm = cfg.floor, TrafficMap.of_restaurant(cfg)
    places = [w for w in floor.waypoints if w.kind in ('dock', 'charger', 'pass', 'table')]
    # Every move from or to a dock, charger or the pass, and up to 2,000 between tables.
    pairs = [
        (a, b) for a, b in itertools.permutations(places, 2) if (a.kind, b.kind) != ('table',) * 2
    ]
    between_tables = list(itertools.permutations([p for p in places if p.kind == 'table'], 2))
    pairs += random.Random(1).sample(between_tables, min(2000, len(between_tables)))
    moves = []
    for start, end in pairs:
        route = floor.path(start.id, end.id)
        moves.append((route, lane_path(cfg, route, tm.radius_m, (start.x, start.y))))
    gate = TrafficGate(
        'w',
        tm,
        lambda nodes, start: lane_path(cfg, nodes, tm.radius_m, start),
        lambda a, b: lane_offset(floor, a, b, tm.radius_m),
    )
    checked = 0
    for aisle in floor.aisles:
        for a, b in ((aisle.a, aisle.b), (aisle.b, aisle.a)):
            if b not in tm.junctions or not tm.holdable(a, b):
                continue
            # Where the robot's gate has it wait: in its lane, short of b.
            gate.start([a, b])
            hx, hy = gate.path((floor.points[a].x, floor.points[a].y))[-1]
            waiting = Obstacle('w', hx, hy, tm.radius_m)
            for route, drive in moves:
                i = route.index(b) if b in route else -1
                if i < 0 or (i > 0 and route[i - 1] == a):
                    continue  # not over that junction, or queueing behind the waiting robot
                assert clearance(drive, tm.radius_m, [waiting]) == (math.inf, ''), (
                    f'waiting on {a}->{b} blocks {route[0]}->{route[-1]}'
                )
                checked += 1
    assert checked > 100


@pytest.mark.parametrize('seed', ['restaurant.yaml', 'harbor.yaml', 'flagship.yaml'])
def test_robots_on_two_junctions_at_once_never_touch(seeds_dir: Path, seed: str) -> None:
    # Found in a Saturday rush: serve1 leaving the pass over c10_0 touched serve2 turning at
    # c9_5, 0.5 m away, each holding its own junction.
    cfg = load_restaurant(seeds_dir / seed)
    tm, floor = TrafficMap.of_restaurant(cfg), cfg.floor
    for a, b in itertools.combinations(sorted(tm.junctions), 2):
        if tm.node_needs(a) != tm.node_needs(b):
            gap = math.dist(*((floor.points[n].x, floor.points[n].y) for n in (a, b)))
            assert gap >= tm.clear_m, f'{a} and {b} are {gap:.2f} m apart'


def test_head_on_in_a_lane_one_waits_at_the_mouth() -> None:
    floor = through_lane()
    tm = TrafficMap.of(floor, RADIUS)
    c = Controller(tm)
    west = tuple(floor.path('dock3', 'dock4'))
    east = tuple(floor.path('dock4', 'dock3'))
    assert 'mid' in west and 'mid' in east
    g_west = c.ask(Ask('a', west, 0, False, 0), 0.0)
    g_east = c.ask(Ask('b', east, 0, False, 0), 0.0)
    lane = tm.inside['mid']
    # Both get to the corridor before the lane; only one may enter it.
    while lane not in c.holds.get('a', set()):
        g_west = c.ask(Ask('a', west, g_west, True, g_west), 1.0)
    g_east_next = c.ask(Ask('b', east, g_east, True, g_east), 1.0)
    assert g_east_next == g_east and 'b' in c.waiting
    assert lane not in c.holds['b']


def test_a_loaded_robot_goes_first(demo_config: RestaurantConfig) -> None:
    tm = TrafficMap.of(demo_config.floor, RADIUS)
    c = Controller(tm)
    floor = demo_config.floor
    inside = tuple(floor.path('c5_5', 'stop-t09'))
    c.ask(Ask('in', inside, len(inside) - 1, False, len(inside) - 1), 0.0)  # at t09
    # Both wait short of c5_5 for the lane: the empty one since t=1, the loaded one since t=2.
    empty = tuple(floor.path('c1_5', 'stop-t05'))
    loaded = tuple(floor.path('c9_5', 'stop-t01'))
    assert c.ask(Ask('empty', empty, 0, True, 0), 1.0) == 0
    assert c.ask(Ask('loaded', loaded, 0, True, 0, loaded=True), 2.0) == 0
    # Whom each waits for (their obstacle stops see rings across both layers by it).
    assert (c.waits_for('empty'), c.waits_for('loaded'), c.waits_for('in')) == ('in', 'in', '')
    c.ask(Ask('in', ('dock1',), 0, False, 0), 3.0)  # it left the lane: back on its dock
    assert c.ask(Ask('empty', empty, 0, True, 0), 3.0) == 0  # deferred to the loaded one
    assert c.waits_for('empty') == 'loaded'
    assert c.ask(Ask('loaded', loaded, 0, True, 0, loaded=True), 3.0) == len(loaded) - 1
    assert c.waits_for('loaded') == ''


def test_a_robot_waiting_for_a_held_lane_takes_the_way_round() -> None:
    floor = through_lane()
    tm = TrafficMap.of(floor, RADIUS)
    c = Controller(tm, replan_after_s=10.0, detour_max_m=5.0)
    served = tuple(floor.path('dock4', 'mid'))
    c.ask(Ask('in', served, len(served) - 1, False, len(served) - 1), 0.0)  # at the table
    route = tuple(floor.path('dock3', 'dock4'))
    assert 'mid' in route  # the short way is the lane
    at_wm = Ask('a', route, 1, True, 1)  # short of wm, the lane's west mouth
    assert c.ask(at_wm, 0.0) == 1 and c.waits_for('a') == 'in'
    assert c.replan(at_wm, 9.0) is at_wm  # not yet
    assert c.ask(at_wm, 9.0) == 1
    round_ = c.replan(at_wm, 10.0)
    # Round by the north corridor, 4 m longer; on to wm first (it never turns back).
    assert round_.route == ('dock3', 'w2', 'wm', 'w1', 'e1', 'em', 'e2', 'dock4')
    assert c.replans['a'] == 1
    assert c.ask(round_, 10.0) > 1 and 'a' not in c.waiting
    assert not {tm.inside['mid']} & c.holds['a']
    # Not again on the new route while it drives, and not when the way round is too long.
    assert c.replan(replace(round_, progress=2, clear=True, granted=4), 30.0).route == round_.route
    assert detour(tm, at_wm, frozenset({tm.inside['mid']}), 3.9) is None


def test_no_way_round_a_lane_on_the_demo_floor(demo_config: RestaurantConfig) -> None:
    # The seed floors are trees: a held table lane has no way round, so the robot waits.
    floor = demo_config.floor
    tm = TrafficMap.of(floor, RADIUS)
    c = Controller(tm, replan_after_s=1.0)
    inside = tuple(floor.path('c5_5', 'stop-t09'))
    c.ask(Ask('in', inside, len(inside) - 1, False, len(inside) - 1), 0.0)
    route = tuple(floor.path('c1_5', 'stop-t05'))
    assert c.ask(Ask('a', route, 0, True, 0), 0.0) == 0
    assert c.replan(Ask('a', route, 0, True, 0), 60.0).route == route
    assert not c.replans


def test_a_detour_keeps_the_route_up_to_where_the_robot_is() -> None:
    floor = through_lane()
    tm = TrafficMap.of(floor, RADIUS)
    gate = TrafficGate('a', tm, lambda nodes, start: [start], lambda a, b: 0.0)
    gate.start(floor.path('dock3', 'dock4'))
    gate.progress, gate.clear, gate.granted = 1, True, 1
    assert not gate.reroute(('dock3', 'w2', 'w1', 'e1', 'e2', 'dock4'))  # back off wm's aisle
    assert not gate.reroute(('dock3', 'w2', 'wm', 'w1', 'e1', 'e2'))  # elsewhere
    assert gate.route == tuple(floor.path('dock3', 'dock4'))
    assert gate.reroute(('dock3', 'w2', 'wm', 'w1', 'e1', 'em', 'e2', 'dock4'))
    assert gate.route[3] == 'w1' and gate.grant(4)


def test_the_way_into_a_dock_beside_the_corridor_is_not_mistaken_for_the_corridor(
    demo_config: RestaurantConfig,
) -> None:
    # dock3's aisle leaves c1_5 at 31 degrees back over the corridor's westbound lane. A robot
    # coming home along that lane was taken to be on dock3's aisle already, 2 m short of c1_5,
    # and clear of it: the controller gave c1_5 to the robot behind, which met it at the
    # junction's corner (a jam, then a collision, in Saturday rushes with diffdrive).
    floor = demo_config.floor
    tm = TrafficMap.of_restaurant(demo_config)
    gate = TrafficGate(
        'serve3', tm, lambda nodes, start: [start], lambda a, b: lane_offset(floor, a, b, 0.27)
    )
    gate.start(['c5_5', 'c1_5', 'dock3'])
    gate.granted = 2
    lane_y = floor.points['c1_5'].y + lane_offset(floor, 'c5_5', 'c1_5', tm.radius_m)
    for x in [5.4 - 0.05 * k for k in range(70)]:
        gate.moved((x, lane_y))
        if x - floor.points['c1_5'].x > 0.8:  # farther than a lane's corner from c1_5
            assert gate.progress == 0, f'at x={x:.2f} it is taken to be past c1_5'
    assert (gate.progress, gate.clear) == (1, False)  # at the corner: there, not clear of it
    # On its way up the dock's aisle it is past c1_5, and clear of it once far enough.
    dock = floor.points['dock3']
    gate.moved((dock.x - 0.25, dock.y - 0.15))
    assert (gate.progress, gate.clear) == (1, True)
    # Straight on along the corridor it passes c10_0 and c9_5 (0.5 m apart) even when seen
    # only every 0.5 m (a fast clock): on the aisle after a waypoint is past it.
    gate.start(['c13_5', 'c10_0', 'c9_5', 'c5_5'])
    gate.granted = 2
    for k in range(14):
        gate.moved((13.25 - 0.5 * k, lane_y))
    assert (gate.progress, gate.clear) == (2, True)


@dataclass
class _Robot:
    robot_id: str
    home: str
    route: tuple[str, ...] = ()
    progress: int = 0
    clear: bool = False
    granted: int = 0
    pause: int = 0
    legs: int = 0

    def ask(self) -> Ask:
        return Ask(self.robot_id, self.route, self.progress, self.clear, self.granted)


def _play(floor: Floor, robots: int, legs: int, seed: int, one_at_pass: bool = True) -> Controller:
    """Robots drive random legs between tables, the pass and their docks, one move per step
    (onto the aisle after a node, or onto the next node), asking the controller before every
    move and taking the detours it gives; returns the controller. Asserts that no two robots
    ever occupy one resource. `one_at_pass`: no robot is sent to the pass while another is
    there or bound for it, as the dispatcher stages one there (and a robot standing there for
    nothing makes way); where a dead-end lane's mouth is on the way from the pass, a robot at
    the pass bound into the lane and one in it bound for the pass would wait for each other."""
    rnd = random.Random(seed)
    tm = TrafficMap.of(floor, RADIUS)
    c = Controller(tm)
    docks = [w.id for w in floor.waypoints if w.kind == 'dock']
    goals = [w.id for w in floor.waypoints if w.kind in ('table', 'pass')]
    fleet = [_Robot(f'r{i}', docks[i]) for i in range(robots)]
    for r in fleet:
        r.route = (r.home,)
    for step in range(20_000):
        for r in rnd.sample(fleet, len(fleet)):
            last = len(r.route) - 1
            if r.progress == last and not r.clear:
                if r.pause:
                    r.pause -= 1
                    continue
                if r.legs == legs and r.route[-1] == r.home:
                    continue
                r.legs += 1
                goal = r.home if r.legs == legs else rnd.choice(goals)
                at_pass = one_at_pass and any(
                    floor.pass_point.id in (o.route[-1], o.route[o.progress])
                    for o in fleet
                    if o is not r
                )
                if goal == r.route[-1] or (goal == floor.pass_point.id and at_pass):
                    continue
                r.route, r.progress, r.granted = tuple(floor.path(r.route[-1], goal)), 0, 0
                r.pause = rnd.randint(0, 6)  # waiting for pickup at the end of the leg
            ask = c.replan(r.ask(), float(step))
            r.route, r.granted = ask.route, c.ask(ask, float(step))
            if r.clear and r.progress < r.granted:
                r.progress, r.clear = r.progress + 1, False  # onto the next node
            elif not r.clear and r.progress < last:
                # Onto the aisle after the node: granted further, or a stop to wait on.
                r.clear = r.progress < r.granted or tm.holdable(
                    *r.route[r.progress : r.progress + 2]
                )
            c.ask(r.ask(), float(step))
        owned: dict[str, str] = {}
        for r in fleet:
            for res in tm.occupied(r.route, r.progress, r.clear, r.progress):
                assert owned.setdefault(res, r.robot_id) == r.robot_id, (step, res)
        if all(
            r.legs == legs and r.route[-1] == r.home and r.progress == len(r.route) - 1
            for r in fleet
        ):
            return c
    raise AssertionError(
        f'not every robot got home: {[(r.robot_id, r.route, r.progress) for r in fleet]}'
    )


@pytest.mark.parametrize('seed', range(6))
def test_a_fleet_on_the_demo_floor_never_shares_and_never_sticks(
    demo_config: RestaurantConfig, seed: int
) -> None:
    assert _play(demo_config.floor, 3, 25, seed).refusals > 0  # they did meet


@pytest.mark.parametrize('seed', range(6))
def test_four_robots_through_one_lane_never_share_and_never_stick(seed: int) -> None:
    # (Its lane is open at both ends: robots sent to the pass at random meet in it more.)
    c = _play(through_lane(), 4, 25, seed, one_at_pass=False)
    # They met, and some went round by the corridor instead of waiting for the lane.
    assert c.refusals > 0 and c.replans.total() > 0


def _drive_granted(cfg: RestaurantConfig, route: list[str], ask_ahead: bool) -> list[float]:
    """One robot alone driving `route` under traffic control as its node does (sim driver,
    20 Hz ticks at the rush's time scale, 60, every ask answered at once): its speed at every
    tick from setting off to arriving."""
    robot, tm = cfg.serving_robots[0], TrafficMap.of_restaurant(cfg)
    controller = Controller(tm)
    start = cfg.floor.points[route[0]]
    driver = SimMotionDriver(None, robot, RUSH_SCALE, (start.x, start.y, 0.0))
    gate = TrafficGate(
        robot.id,
        tm,
        lambda nodes, at: lane_path(cfg, nodes, robot.radius_m, at),
        lambda a, b: lane_offset(cfg.floor, a, b, robot.radius_m),
    )
    lead = lead_m(robot.speed_mps, robot.max_accel_mps2, 2 * TICK_S * RUSH_SCALE)

    def ask(approaching: bool) -> None:
        at = driver.pose[:2]
        if gate.grant(controller.ask(gate.ask(True, at, approaching), 0.0)):
            driver.set_path(gate.path(at))

    gate.start(route)
    driver.set_path(gate.path(driver.pose[:2]))
    t, speeds = 0.0, []
    driver.tick(t)
    ask(False)
    while not (driver.done and gate.arrived):
        t += TICK_S
        driver.tick(t)
        speeds.append(driver.speed)
        at = driver.pose[:2]
        approaching = ask_ahead and driver.runs_free() and driver.remaining_m() <= lead
        if gate.moved(at) or gate.wants_more(at, approaching):
            ask(approaching)
        assert t < 10, 'never arrived'
    return speeds


def test_asked_ahead_a_robot_drives_over_free_junctions_without_stopping(
    demo_config: RestaurantConfig,
) -> None:
    floor, robot = demo_config.floor, demo_config.serving_robots[0]
    route = floor.path(floor.pass_point.id, demo_config.table_by_id['t16'].waypoint)
    assert len(TrafficMap.of_restaurant(demo_config).stops(route)) > 2  # a block at a time
    # Asking only at the end of each grant, it stops there (the ask and its answer take a
    # tick, 3 simulated seconds at 60x).
    speeds = _drive_granted(demo_config, route, False)
    assert any(v == 0 for v in speeds[:-1])
    speeds = _drive_granted(demo_config, route, True)
    assert all(v > 0 for v in speeds[:-1]), 'stopped on the way'
    start = floor.points[route[0]]
    lanes = lane_path(demo_config, route, robot.radius_m, (start.x, start.y))
    length = sum(math.dist(a, b) for a, b in itertools.pairwise(lanes))
    # Rest to rest, but for the last tick's rounding.
    drive = drive_s(length, robot.speed_mps, robot.max_accel_mps2)
    assert len(speeds) * TICK_S * RUSH_SCALE <= drive + TICK_S * RUSH_SCALE
