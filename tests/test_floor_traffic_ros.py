"""Sim serving robots that see each other, over real DDS between processes.

Two `serving_robot` processes with the sim driver share their poses; the floor monitor process
(as `robodine up`/`rush` start it with `sim`) counts collisions from those poses and the rush's
FloorListener reads them. Robots meeting head-on on the corridor pass in their lanes;
a robot driving into one that stands in its lane stops behind it and goes on when it leaves.
"""

from __future__ import annotations

import json
import math
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from action_msgs.msg import GoalStatus
from std_msgs.msg import String

from orchestrator.bringup import floor_monitor_command
from orchestrator.config import RestaurantConfig
from orchestrator.rush.runner import FloorListener
from orchestrator.settings import DEFAULT_CONFIG
from robot_nodes.drivers.neighbours import GAP_M, POSES_TOPIC, PoseReport
from robot_nodes.floor_world import CONTACT_EPS_M, SweptContacts
from tests.ros_helpers import (
    GoalRun,
    RosClient,
    ros_child_env,
    ros_client_fixture,
    start_robot_process,
    stop_process,
    wait_until,
)

pytestmark = pytest.mark.ros
SCALE = 10.0
# Generous: the machine may be busy with other test runs.
TRIP_S = 120.0


@pytest.fixture
def monitor() -> Iterator[FloorListener]:
    proc = subprocess.Popen(floor_monitor_command(DEFAULT_CONFIG, SCALE), env=ros_child_env())
    listener = FloorListener('floor monitor')
    try:
        yield listener
    finally:
        listener.stop()
        stop_process(proc)


@pytest.fixture
def ros() -> Iterator[RosClient]:
    yield from ros_client_fixture('floor_traffic_test')


@pytest.fixture
def robots(tmp_path: Path) -> Iterator[None]:
    procs = [
        start_robot_process(
            'serving',
            rid,
            DEFAULT_CONFIG,
            SCALE,
            tmp_path,
            extra_params={'pickup_timeout_s': 100000.0},
        )
        for rid in ('serve1', 'serve2')
    ]
    try:
        yield
    finally:
        for proc in procs:
            stop_process(proc)


class Poses:
    """Every pose report on the shared topic, in arrival order."""

    def __init__(self, ros: RosClient) -> None:
        self.reports: list[PoseReport] = []
        self._lock = threading.Lock()
        ros.node.create_subscription(String, POSES_TOPIC, self._add, 100)

    def _add(self, msg: String) -> None:
        with self._lock:
            self.reports.append(PoseReport.decode(msg.data))

    def all(self) -> list[PoseReport]:
        with self._lock:
            return list(self.reports)

    def latest(self, robot_id: str) -> PoseReport | None:
        return next((r for r in reversed(self.all()) if r.robot_id == robot_id), None)


def _waiting_at(run: GoalRun, table_id: str) -> bool:
    return any(fb.stage == 'waiting_pickup' and fb.next_stop == table_id for _, fb in run.feedback)


def _standing_at(ros: RosClient, robot_id: str, x: float, y: float) -> bool:
    state = ros.watch_state(robot_id).latest()
    return state is not None and state.detail == '' and math.hypot(state.x - x, state.y - y) < 0.05


def test_robots_meeting_head_on_pass_in_their_lanes(
    monitor: FloorListener, robots: None, ros: RosClient, demo_config: RestaurantConfig
) -> None:
    poses = Poses(ros)
    ros.wait_for_state('serve1', timeout=60)
    ros.wait_for_state('serve2', timeout=60)
    # serve2 waits at the pass, then heads home to its dock while serve1 sets off from its
    # dock for the pass (its trip's first leg): head-on along the corridor.
    pass_point = demo_config.floor.pass_point
    assert ros.control('serve2', 'stage').accepted
    wait_until(lambda: _standing_at(ros, 'serve2', pass_point.x, pass_point.y), TRIP_S)
    run = ros.deliver('serve1', 'trip-head-on', ['t03'])
    assert run.is_accepted()
    assert ros.control('serve2', 'dock').accepted
    dock2 = demo_config.floor.points['dock2']
    wait_until(lambda: _standing_at(ros, 'serve2', dock2.x, dock2.y), TRIP_S, what='serve2 home')
    wait_until(lambda: _waiting_at(run, 't03'), TRIP_S, what='serve1 at table 3')

    reports = poses.all()
    # Neither stopped for the other, and each kept to its lane on the corridor (y = 11).
    assert {r.blocked_by for r in reports} == {''}
    on_corridor = [r for r in reports if 2.0 < r.x < 9.0 and abs(r.y - 11.0) < 0.5]
    east = [r for r in on_corridor if r.robot_id == 'serve1' and math.cos(r.theta) > 0.99]
    west = [r for r in on_corridor if r.robot_id == 'serve2' and math.cos(r.theta) < -0.99]
    assert east and west
    assert all(r.y == pytest.approx(11.0 - 0.375, abs=1e-6) for r in east)
    assert all(r.y == pytest.approx(11.0 + 0.375, abs=1e-6) for r in west)
    # They did meet: serve1 was west of serve2 on the corridor, and later east of it (from
    # their tracks: a busy machine's reports may be too sparse to catch both on it at once).
    tracks = SweptContacts()  # the floor monitor's tracks: corners timed by distance
    for r in reports:
        tracks.add(r.robot_id, r.stamp_ns / 1e9, r.x, r.y, r.radius, r.via)
    one, two = tracks.tracks['serve1'], tracks.tracks['serve2']
    start = max(one.samples[0][0], two.samples[0][0])
    end = min(one.samples[-1][0], two.samples[-1][0])
    sides = []
    for t in sorted({s[0] for s in one.samples + two.samples if start <= s[0] <= end}):
        (x1, y1), (x2, y2) = one.at(t), two.at(t)
        if all(1.5 < x < 10.0 and abs(y - 11.0) < 0.5 for x, y in ((x1, y1), (x2, y2))):
            sides.append(x1 < x2)
    assert sides and sides[0] and not sides[-1], 'they never met on the corridor'
    time.sleep(1.0)  # the monitor checks a little behind the clock
    assert monitor.result()['count'] == 0, monitor.result()


def test_a_robot_stops_behind_one_standing_in_its_lane(
    monitor: FloorListener, robots: None, ros: RosClient, demo_config: RestaurantConfig
) -> None:
    poses = Poses(ros)
    ros.wait_for_state('serve1', timeout=60)
    ros.wait_for_state('serve2', timeout=60)
    # serve2 stands at table 1 waiting for pickup, in the one-lane aisle serve1 must drive
    # through to reach table 5 beyond it.
    first = ros.deliver('serve2', 'trip-ahead', ['t01', 't13'])
    wait_until(lambda: _waiting_at(first, 't01'), TRIP_S, what='serve2 at table 1')
    second = ros.deliver('serve1', 'trip-behind', ['t05'])
    assert second.is_accepted()

    def stopped_behind() -> PoseReport | None:
        me = poses.latest('serve1')
        return me if me is not None and me.blocked_by == 'serve2' and me.v == 0 else None

    behind = wait_until(stopped_behind, TRIP_S, what='serve1 stopping behind serve2')
    assert behind is not None
    stop_t01 = demo_config.floor.points['stop-t01']
    gap = math.hypot(behind.x - stop_t01.x, behind.y - stop_t01.y)
    radii = 2 * demo_config.serving_robots[0].radius_m
    assert gap == pytest.approx(radii + GAP_M, abs=0.02)
    # It stays there while serve2 waits.
    time.sleep(0.5)
    still = poses.latest('serve1')
    assert still is not None and (still.x, still.y) == (behind.x, behind.y)
    assert not _waiting_at(second, 't05')
    # The operator sees who it stands for.
    state = ros.watch_state('serve1')

    def says_so() -> bool:
        latest = state.latest()
        return latest is not None and latest.detail == 'to table t05, stopped for serve2'

    wait_until(says_so, TRIP_S, what='serve1 saying it is stopped for serve2')

    # serve2's food is taken: it drives on down the lane to table 13, serve1 follows to 5.
    assert ros.confirm_pickup('serve2', 'trip-ahead', 't01').accepted
    wait_until(lambda: _waiting_at(second, 't05'), TRIP_S, what='serve1 at table 5')
    wait_until(lambda: _waiting_at(first, 't13'), TRIP_S, what='serve2 at table 13')
    # serve1 leaves the lane first, serve2 follows it out: both trips complete.
    assert ros.confirm_pickup('serve1', 'trip-behind', 't05').accepted
    assert ros.confirm_pickup('serve2', 'trip-ahead', 't13').accepted
    assert second.status(TRIP_S) == GoalStatus.STATUS_SUCCEEDED
    assert first.status(TRIP_S) == GoalStatus.STATUS_SUCCEEDED
    time.sleep(1.0)  # the monitor checks a little behind the clock
    assert monitor.result()['count'] == 0, monitor.result()


# serve2's later reports come `late_s` after serve1's: longer than the monitor's lag (0.3 s),
# as on a starved machine (a plain run on two workers once placed the contact at x = 4.74,
# mid-way through their swap, when the monitor checked up to then).
@pytest.mark.parametrize('late_s', [0.0, 1.0])
def test_the_monitor_reports_robots_driving_through_each_other(
    monitor: FloorListener, ros: RosClient, late_s: float
) -> None:
    # Two robots' poses as their drivers would share them: swapping places head-on between two
    # reports (metres apart, as at a high time scale), then standing apart.
    pub = ros.node.create_publisher(String, POSES_TOPIC, 10)
    wait_until(lambda: pub.get_subscription_count() > 0, 30, what='the monitor')

    def share(robot_id: str, x: float, stamp_ns: int) -> None:
        report = PoseReport(robot_id, x, 11.0, 0.0, 1.0, 0.27, '', stamp_ns)
        pub.publish(String(data=report.encode()))

    t0 = time.time_ns()
    moves = [(2.0, 8.0), (8.0, 2.0), (8.0, 2.0)]
    for i, (x1, _) in enumerate(moves):
        share('serve1', x1, t0 + i * 100_000_000)
    share('serve2', moves[0][1], t0)
    time.sleep(late_s)
    for i, (_, x2) in list(enumerate(moves))[1:]:
        share('serve2', x2, t0 + i * 100_000_000)
    events = wait_until(lambda: monitor.result()['events'], 30, what='a collision report')
    assert [(e['robot_id'], e['with'], e['count']) for e in events] == [
        ('serve1', 'robot:serve2', 1)
    ]
    # Where they first touched (they meet at 5.0), to the report's millimetre.
    reach = 2 * 0.27 - CONTACT_EPS_M
    assert events[0]['x'] == pytest.approx(5.0 - reach / 2, abs=1e-3)
    json.dumps(events)  # as the rush report stores them
