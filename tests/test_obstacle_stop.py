"""Robots that see each other, without ROS: the obstacle stop's geometry, the sim driver
stopping behind a robot and going on when it leaves, jams, and collisions from swept poses."""

from __future__ import annotations

import math
import time
from dataclasses import replace

import pytest

from orchestrator.config import RestaurantConfig
from robot_nodes.drivers.base import JAM_S
from robot_nodes.drivers.neighbours import GAP_M, Obstacle, PoseReport, clearance
from robot_nodes.drivers.sim import SimMotionDriver
from robot_nodes.floor_world import CONTACT_EPS_M, SweptContacts, first_contact

R = 0.27
DT = 0.05


def _report(
    robot_id: str, x: float, y: float, theta: float = 0.0, blocked_by: str = ''
) -> PoseReport:
    """A robot standing at (x, y), as it would share its pose now."""
    return PoseReport(robot_id, x, y, theta, 0.0, R, blocked_by, time.time_ns())


def test_clearance_counts_what_is_ahead_in_the_robots_way() -> None:
    path = [(0.0, 0.0), (5.0, 0.0), (5.0, 5.0)]
    # Straight ahead: stop with GAP_M between the footprints.
    free, who = clearance(path, R, [Obstacle('b', 3.0, 0.0, R)])
    assert (free, who) == (pytest.approx(3.0 - 2 * R - GAP_M), 'b')
    # In the other lane of a 1.5 m aisle (0.75 m to the side), behind, or beside: no.
    for x, y in [(3.0, 0.75), (-1.0, 0.0), (0.0, 0.6)]:
        assert clearance(path, R, [Obstacle('b', x, y, R)]) == (math.inf, '')
    # Around the corner: counted along the path.
    free, who = clearance(path, R, [Obstacle('c', 5.0, 3.0, R)])
    assert free == pytest.approx(5.0 + 3.0 - 2 * R - GAP_M)
    # One coming closer counts as nearer by what it covers before it can stop.
    closer, _ = clearance(path, R, [Obstacle('b', 3.0, 0.0, R, closing_m=1.0)])
    assert closer == pytest.approx(3.0 - 2 * R - GAP_M - 1.0)
    # The nearest of several.
    assert clearance(path, R, [Obstacle('b', 3, 0, R), Obstacle('c', 2, 0.1, R)])[1] == 'c'


def _sim(cfg: RestaurantConfig, scale: float = 1.0) -> SimMotionDriver:
    return SimMotionDriver(None, cfg.serving_robots[0], scale, (0.0, 0.0, 0.0))


@pytest.mark.parametrize('scale', [1.0, 60.0, 200.0])
def test_sim_stops_behind_a_standing_robot_and_goes_on_when_it_leaves(
    demo_config: RestaurantConfig, scale: float
) -> None:
    driver = _sim(demo_config, scale)
    driver.set_path([(0.0, 0.0), (10.0, 0.0)])
    driver.others['b'] = _report('b', 4.0, 0.0)
    t = 0.0
    driver.tick(t)
    for _ in range(2000):
        t += DT
        driver.tick(t)
        # Never closer than touching plus the gap, however coarse a step is.
        assert 4.0 - driver.pose[0] >= 2 * R + GAP_M - 1e-6
    assert driver.pose[0] == pytest.approx(4.0 - 2 * R - GAP_M, abs=0.01)
    assert (driver.speed, driver.blocked_by, driver.done) == (0.0, 'b', False)
    # The other robot drives off: it goes on to the end of its path.
    driver.others['b'] = _report('b', 4.0, 5.0)
    for _ in range(2000):
        t += DT
        driver.tick(t)
        if driver.done:
            break
    assert driver.pose[:2] == pytest.approx((10.0, 0.0))
    assert driver.blocked_by == ''


def test_a_follower_keeps_behind_where_the_leader_last_was(
    demo_config: RestaurantConfig,
) -> None:
    # The leader said it drove on at 1 m/s 0.1 s ago (6 simulated s at 60x): it may have
    # stopped since, so the follower does not count on it being 6 m further.
    driver = _sim(demo_config, 60.0)
    driver.set_path([(0.0, 0.0), (20.0, 0.0)])
    leader = replace(_report('b', 4.0, 0.0), v=1.0, stamp_ns=time.time_ns() - 100_000_000)
    driver.others['b'] = leader
    t = 0.0
    for _ in range(200):
        t += DT
        driver.tick(t)
        assert driver.pose[0] <= 4.0 - 2 * R - GAP_M + 1e-6


def test_sim_brakes_at_its_limit_for_a_robot_seen_from_afar(
    demo_config: RestaurantConfig,
) -> None:
    robot = demo_config.serving_robots[0]
    driver = _sim(demo_config)
    driver.set_path([(0.0, 0.0), (20.0, 0.0)])
    driver.others['b'] = _report('b', 8.0, 0.0)
    t, last = 0.0, 0.0
    driver.tick(t)
    while driver.blocked_by == '':
        t += DT
        driver.tick(t)
        assert abs(driver.speed - last) <= robot.max_accel_mps2 * DT + 1e-9
        last = driver.speed
        assert t < 30


def _time_to_pass(driver: SimMotionDriver, x: float) -> float:
    """Simulated seconds (at 1x) until the driver is past `x` (at most JAM_S + 30)."""
    t = 0.0
    driver.tick(t)
    while driver.pose[0] < x and t < JAM_S + 30:
        t += DT
        driver.tick(t)
    return t


def test_a_ring_of_blocked_robots_is_broken_by_the_smallest_id(
    demo_config: RestaurantConfig,
) -> None:
    # serve1 and serve2 head-on in a one-lane aisle, each stopped for the other.
    serve1 = _sim(demo_config)
    serve1.set_path([(0.0, 0.0), (10.0, 0.0)])
    serve1.others['serve2'] = _report('serve2', 2.0, 0.0, math.pi, blocked_by='serve1')
    assert JAM_S <= _time_to_pass(serve1, 3.0) < JAM_S + 30
    # The other side of the ring waits: serve2 is not the smallest id.
    serve2 = SimMotionDriver(None, demo_config.serving_robots[1], 1.0, (2.0, 0.0, math.pi))
    serve2.set_path([(2.0, 0.0), (-8.0, 0.0)])
    serve2.others['serve1'] = _report('serve1', 0.9, 0.0, blocked_by='serve2')
    for i in range(int((JAM_S + 10) / DT)):
        serve2.tick(i * DT)
    assert serve2.pose[0] == pytest.approx(0.9 + 2 * R + GAP_M)
    assert serve2.blocked_by == 'serve1'


def test_a_robot_drives_through_a_queue_of_robots_stopped_for_it(
    demo_config: RestaurantConfig,
) -> None:
    # serve2 and serve3 nose to tail (0.06 m apart), head-on to serve1 in a one-lane aisle, both
    # stopped for it. Passing only the latest, serve1 stood inside serve2 for good once it had
    # to pass serve3 (CI: robots never idle again after the hundred-order test).
    serve1 = _sim(demo_config, 200.0)
    serve1.set_path([(0.0, 0.0), (10.0, 0.0)])
    serve1.others['serve2'] = _report('serve2', 0.7, 0.0, math.pi, blocked_by='serve1')
    serve1.others['serve3'] = _report('serve3', 1.3, 0.0, math.pi, blocked_by='serve1')
    t = 0.0
    serve1.tick(t)
    while not serve1.done:
        t += DT
        serve1.tick(t)
        assert t < 10 * JAM_S / 200, f'stuck at {serve1.pose} behind {serve1.blocked_by}'
    assert serve1.blocked_by == ''


def test_a_ring_across_traffic_control_is_broken_by_the_robot_that_may_drive(
    demo_config: RestaurantConfig,
) -> None:
    # serve2 holds a junction and is stopped for serve1, which waits at the traffic controller
    # for serve2 to free it: neither moves unless serve2 (the only one stopped by its obstacle
    # stop, though not the smallest id) drives through.
    serve2 = SimMotionDriver(None, demo_config.serving_robots[1], 1.0, (0.0, 0.0, 0.0))
    serve2.set_path([(0.0, 0.0), (10.0, 0.0)])
    waiting = replace(_report('serve1', 1.0, 0.0), waiting_for='serve2')
    serve2.others['serve1'] = waiting
    assert JAM_S <= _time_to_pass(serve2, 2.0) < JAM_S + 30
    # Waiting for a third robot, not for serve2: no ring, serve2 waits.
    serve2 = SimMotionDriver(None, demo_config.serving_robots[1], 1.0, (0.0, 0.0, 0.0))
    serve2.set_path([(0.0, 0.0), (10.0, 0.0)])
    serve2.others['serve1'] = replace(waiting, waiting_for='serve3')
    for i in range(int((JAM_S + 10) / DT)):
        serve2.tick(i * DT)
    assert serve2.blocked_by == 'serve1' and serve2.pose[0] < 1.0


def test_first_contact_of_two_linear_motions() -> None:
    # Head-on along one line, 4 m to cover each: 1 m apart after 3/8 of the time.
    assert first_contact((0, 0), (4, 0), (4, 0), (0, 0), 1.0) == pytest.approx(0.375)
    # Passing in lanes 0.75 m apart: within 1 m once 0.66 m apart along them, never within
    # 0.5 m; already within 1 m at the start.
    along = (4 - (1 - 0.75**2) ** 0.5) / 8
    assert first_contact((0, 0), (4, 0), (4, 0.75), (0, 0.75), 1.0) == pytest.approx(along)
    assert first_contact((0, 0), (4, 0), (0.5, 0.75), (-3.5, 0.75), 1.0) == 0.0
    assert first_contact((0, 0), (4, 0), (4, 0.75), (0, 0.75), 0.5) is None
    # Crossing paths at different times never meet; at the same time they do.
    assert first_contact((0, 0), (2, 0), (3, -1), (3, 1), 1.0) is None
    assert first_contact((-1, 0), (1, 0), (0, -1), (0, 1), 0.5) == pytest.approx(
        (1 - 0.5 / 2**0.5) / 2
    )
    # Standing still, or moving apart, or not yet there at the end.
    assert first_contact((0, 0), (0, 0), (3, 4), (3, 4), 1.0) is None
    assert first_contact((0, 0), (-1, 0), (2, 0), (3, 0), 1.0) is None
    assert first_contact((0, 0), (1, 0), (9, 0), (9, 0), 1.0) is None


# Two footprints of radius R touch closer than this (floor_world.CONTACT_EPS_M spared).
REACH = 2 * R - CONTACT_EPS_M


@pytest.mark.parametrize('split', [None, 0.3, 0.5])
def test_swept_contacts_see_a_pass_through_between_reports_once(split: float | None) -> None:
    swept = SweptContacts()
    # Two robots swap places head-on between two reports a whole second apart (metres per
    # report at a high time scale): never seen overlapping at a report, still one contact,
    # placed where they first touch however the checks split the time (a late check once
    # split it before the middle, and the contact was put at the split).
    swept.add('serve2', 0.0, 5.0, 0.0, R)
    swept.add('serve1', 0.0, 0.0, 0.0, R)
    assert swept.check(0.25) == []
    swept.add('serve1', 1.0, 5.0, 0.0, R)
    swept.add('serve2', 1.0, 0.0, 0.0, R)
    hits = (swept.check(split) if split else []) + swept.check(1.5)
    x = (5.0 - REACH) / 2
    assert hits == [
        {
            'robot_id': 'serve1',
            'with': 'robot:serve2',
            'x': pytest.approx(x),
            'y': 0.0,
            't': pytest.approx(x / 5),
        }
    ]


def test_swept_contacts_count_a_contact_once_until_apart_again() -> None:
    swept = SweptContacts()
    swept.add('serve1', 0.0, 0.0, 0.0, R)
    swept.add('serve2', 0.0, 5.0, 0.0, R)
    # Driving into each other and standing there is one contact.
    swept.add('serve1', 1.0, 2.4, 0.0, R)
    swept.add('serve2', 1.0, 2.6, 0.0, R)
    assert [h['with'] for h in swept.check(1.0)] == ['robot:serve2']
    swept.add('serve1', 2.0, 2.4, 0.0, R)
    assert swept.check(2.0) == []
    # Apart, then together again: a new contact.
    swept.add('serve2', 3.0, 4.0, 0.0, R)
    assert swept.check(3.0) == []
    swept.add('serve2', 4.0, 2.6, 0.0, R)
    assert len(swept.check(4.0)) == 1


def test_swept_contacts_ignore_robots_passing_in_their_lanes() -> None:
    swept = SweptContacts()
    for t, x in enumerate([0.0, 2.0, 4.0, 6.0]):
        swept.add('serve1', float(t), x, -0.375, R)
        swept.add('serve2', float(t), 6.0 - x, 0.375, R)
        assert swept.check(float(t)) == []


def test_swept_contacts_follow_the_corners_between_reports() -> None:
    # serve1 goes round a corner at (4, 0) between two reports; serve2 stands inside the
    # corner, where the straight line between the reports would run.
    def run(via: tuple[tuple[float, float], ...]) -> list[dict]:
        swept = SweptContacts()
        swept.add('serve2', 0.0, 3.0, 1.0, R)
        swept.add('serve1', 0.0, 2.0, 0.0, R)
        swept.add('serve1', 1.0, 4.0, 2.0, R, via)
        return swept.check(1.0)

    assert len(run(())) == 1
    assert run(((4.0, 0.0),)) == []
    # As sent over the topic.
    report = PoseReport('serve1', 4.0, 2.0, 1.5, 1.0, R, '', 7, ((4.0, 0.0),))
    assert PoseReport.decode(report.encode()) == report
