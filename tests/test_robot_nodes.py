"""Cooking and serving robot nodes as real processes, driven over DDS by a test-side client."""

from __future__ import annotations

import importlib.util
import math
import signal
import subprocess
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from restaurant_interfaces.msg import RobotState, StopResult

from orchestrator.config import RestaurantConfig
from orchestrator.settings import DEFAULT_CONFIG
from robot_nodes import ledger as lg
from robot_nodes.ledger import Ledger
from tests.ros_helpers import (
    GoalRun,
    RosClient,
    rates,
    ros_client_fixture,
    start_robot_process,
    stop_process,
    wait_until,
)

pytestmark = pytest.mark.ros
COOK_SCALE = 50.0
SERVE_SCALE = 10.0
# 100 s of nominal cooking = 2 s real at COOK_SCALE.
COOK_S = 100.0
LAUNCH_DIR = Path(__file__).resolve().parents[1] / 'launch'


@pytest.fixture(scope='module')
def ros() -> Iterator[RosClient]:
    yield from ros_client_fixture('robot_nodes_test')


@pytest.fixture(scope='module')
def ledger_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp('ledger')


@pytest.fixture(scope='module')
def robots(ledger_dir: Path) -> Iterator[dict[str, subprocess.Popen]]:
    """wok1 (capacity 2), serve1 (patient diners) and serve2 (impatient), booted together."""
    procs = {
        'wok1': start_robot_process('cooking', 'wok1', DEFAULT_CONFIG, COOK_SCALE, ledger_dir),
        'serve1': start_robot_process(
            'serving',
            'serve1',
            DEFAULT_CONFIG,
            SERVE_SCALE,
            ledger_dir,
            {'pickup_timeout_s': 3000.0},
        ),
        'serve2': start_robot_process(
            'serving',
            'serve2',
            DEFAULT_CONFIG,
            SERVE_SCALE,
            ledger_dir,
            {'pickup_timeout_s': 20.0},
        ),
    }
    yield procs
    for proc in procs.values():
        stop_process(proc)


@pytest.fixture
def wok1(robots: dict[str, subprocess.Popen], ros: RosClient) -> str:
    ros.wait_for_state('wok1', lambda s: s.mode == RobotState.MODE_IDLE)
    return 'wok1'


def _cooked(ledger_dir: Path, robot_id: str) -> list[str]:
    ledger = Ledger.for_robot(ledger_dir, robot_id)
    try:
        return ledger.cooked_jobs()
    finally:
        ledger.close()


def _entry(ledger_dir: Path, robot_id: str, job_id: str) -> lg.Entry:
    ledger = Ledger.for_robot(ledger_dir, robot_id)
    try:
        entry = ledger.get(job_id)
    finally:
        ledger.close()
    assert entry is not None, job_id
    return entry


def _latest_stage(run: GoalRun) -> str:
    return run.feedback[-1][1].stage if run.feedback else ''


def _started(run: GoalRun) -> bool:
    return _latest_stage(run) not in ('', 'queued')


# --- cooking -------------------------------------------------------------------------------


def test_cook_reports_stages_in_order(wok1: str, ros: RosClient, ledger_dir: Path) -> None:
    run = ros.cook(wok1, 'ostages-00-00', cook_time_s=COOK_S)
    result = run.result()
    assert (result.outcome, result.reason) == ('cooked', '')
    assert run.stages() == ['queued', 'prep', 'cook', 'plate']
    progress = [fb.progress for _, fb in run.feedback]
    assert progress == sorted(progress) and progress[-1] > 0.8
    # cook_time_s / time_scale in total (feedback starts at acceptance; allow a loaded machine)
    span = run.feedback[-1][0] - run.feedback[0][0]
    assert 0.7 * COOK_S / COOK_SCALE < span < 4 * COOK_S / COOK_SCALE
    assert _cooked(ledger_dir, wok1).count('ostages-00-00') == 1


def test_capacity_queues_the_extra_goal(wok1: str, ros: RosClient) -> None:
    runs = [ros.cook(wok1, f'ocap-00-{i:02d}', cook_time_s=COOK_S * 2) for i in range(3)]
    state = ros.wait_for_state(wok1, lambda s: len(s.current_jobs) == 3)
    assert state.mode == RobotState.MODE_BUSY
    wait_until(lambda: all(_started(r) for r in runs[:2]), what='two cooking')
    assert runs[2].stages() == ['queued']
    assert [r.result().outcome for r in runs] == ['cooked'] * 3
    started = next(t for t, fb in runs[2].feedback if fb.stage == 'prep')
    first_done = min(r.feedback[-1][0] for r in runs[:2])
    assert started >= first_done - 0.05


def test_wrong_station_is_refused_with_reason(wok1: str, ros: RosClient, ledger_dir: Path) -> None:
    result = ros.cook(wok1, 'ostation-00-00', station='dessert', dish_id='mochi').result()
    assert result.outcome == 'rejected'
    assert 'dessert' in result.reason and 'wok1' in result.reason
    assert 'ostation-00-00' not in _cooked(ledger_dir, wok1)


def test_duplicate_job_is_answered_from_the_ledger(
    wok1: str, ros: RosClient, ledger_dir: Path
) -> None:
    # Two goals for one job while it cooks: one cooking, both answered.
    first = ros.cook(wok1, 'odup-00-00', cook_time_s=COOK_S)
    wait_until(lambda: _started(first), what='cooking')
    second = ros.cook(wok1, 'odup-00-00', cook_time_s=COOK_S)
    assert first.result().outcome == second.result().outcome == 'cooked'
    # Once it is done, a resend gets the stored result at once.
    t0 = time.monotonic()
    assert ros.cook(wok1, 'odup-00-00', cook_time_s=COOK_S).result().outcome == 'cooked'
    assert time.monotonic() - t0 < COOK_S / COOK_SCALE
    assert _cooked(ledger_dir, wok1).count('odup-00-00') == 1
    assert _entry(ledger_dir, wok1, 'odup-00-00').starts == 1


def test_lower_epoch_is_fenced(wok1: str, ros: RosClient, ledger_dir: Path) -> None:
    assert ros.cook(wok1, 'oepoch-00-00', epoch=2, cook_time_s=10).result().outcome == 'cooked'
    stale = ros.cook(wok1, 'oepoch-00-00', epoch=1, cook_time_s=10).result()
    assert stale.outcome == 'rejected' and 'epoch' in stale.reason
    assert ros.cook(wok1, 'oepoch-00-00', epoch=3, cook_time_s=10).result().outcome == 'cooked'
    entry = _entry(ledger_dir, wok1, 'oepoch-00-00')
    assert (entry.epoch, entry.starts) == (3, 1)


def test_cancel_withdraws_queued_and_wastes_started(wok1: str, ros: RosClient) -> None:
    runs = [ros.cook(wok1, f'ocancel-00-{i:02d}', cook_time_s=COOK_S * 3) for i in range(3)]
    wait_until(lambda: _started(runs[0]) and all(r.feedback for r in runs), what='all accepted')
    queued = ros.control(wok1, 'cancel', 'ocancel-00-02')
    assert queued.accepted and 'withdrawn' in queued.message
    started = ros.control(wok1, 'cancel', 'ocancel-00-00')
    assert started.accepted and 'wasted' in started.message
    assert runs[2].result().outcome == runs[0].result().outcome == 'cancelled'
    again = ros.control(wok1, 'cancel', 'ocancel-00-00')
    assert not again.accepted and 'wasted' in again.message
    runs[1].cancel()  # an action-level cancel works too
    assert runs[1].result().outcome == 'cancelled'


def test_pause_freezes_and_estop_needs_release(wok1: str, ros: RosClient) -> None:
    run = ros.cook(wok1, 'opause-00-00', cook_time_s=COOK_S * 3)
    wait_until(lambda: _latest_stage(run) == 'cook', what='cook stage')
    assert ros.control(wok1, 'pause').accepted
    ros.wait_for_state(wok1, lambda s: s.mode == RobotState.MODE_PAUSED)
    time.sleep(0.2)  # let feedback already in flight arrive
    frozen = run.feedback[-1][1].progress
    time.sleep(0.6)
    assert run.feedback[-1][1].progress == pytest.approx(frozen, abs=1e-6)
    assert ros.control(wok1, 'resume').accepted
    wait_until(lambda: run.feedback[-1][1].progress > frozen + 0.02, what='progress resumes')
    assert ros.control(wok1, 'estop').accepted
    ros.wait_for_state(wok1, lambda s: s.mode == RobotState.MODE_ESTOPPED)
    refused = ros.control(wok1, 'resume')
    assert not refused.accepted and 'release' in refused.message
    assert ros.control(wok1, 'release').accepted
    assert run.result().outcome == 'cooked'
    assert not ros.control(wok1, 'dock').accepted


def test_sigkill_mid_cook_finishes_exactly_once(ros: RosClient, tmp_path: Path) -> None:
    def start() -> subprocess.Popen:
        return start_robot_process('cooking', 'wok2', DEFAULT_CONFIG, COOK_SCALE, tmp_path)

    proc = start()
    try:
        run = ros.cook('wok2', 'okill-00-00', station='fryer', dish_id='mandu', cook_time_s=400)
        wait_until(lambda: _latest_stage(run) == 'cook', what='cook stage')
        wait_until(lambda: _entry(tmp_path, 'wok2', 'okill-00-00').stage == 'cook', what='saved')
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        killed_at = time.time()
        proc = start()
        # The restarted robot has the job back, mid-cook, without any new goal.
        ros.wait_for_state(
            'wok2',
            lambda s: (
                s.stamp.sec + s.stamp.nanosec * 1e-9 > killed_at
                and s.current_jobs == ['okill-00-00']
            ),
        )
        resent = ros.cook(
            'wok2', 'okill-00-00', station='fryer', dish_id='mandu', epoch=1, cook_time_s=400
        )
        wait_until(lambda: resent.feedback, what='feedback after restart')
        assert resent.feedback[0][1].stage in ('cook', 'plate')
        assert resent.feedback[0][1].progress >= 0.2
        assert resent.result(60).outcome == 'cooked'
    finally:
        stop_process(proc)
    assert _cooked(tmp_path, 'wok2') == ['okill-00-00']
    entry = _entry(tmp_path, 'wok2', 'okill-00-00')
    assert (entry.starts, entry.epoch) == (1, 1)


# --- serving -------------------------------------------------------------------------------


def _moving_times(run: GoalRun, stage: str) -> list[float]:
    return [t for t, fb in run.feedback if fb.stage == stage and fb.distance_remaining_m > 0.05]


def _leg_times(run: GoalRun) -> list[list[float]]:
    """Feedback arrival times of each drive to a table, while the robot was on its way."""
    legs: dict[str, list[float]] = {}
    for t, fb in run.feedback:
        if fb.stage == 'to_table' and fb.distance_remaining_m > 0.05:
            legs.setdefault(fb.next_stop, []).append(t)
    return [times for times in legs.values() if len(times) >= 3]


def _settled(ros: RosClient, robot_id: str) -> RobotState:
    """The robot's state once its pose stops changing (braking takes a moment)."""

    def still() -> RobotState | None:
        before = ros.wait_for_state(robot_id)
        time.sleep(0.3)
        after = ros.wait_for_state(robot_id)
        same = math.hypot(after.x - before.x, after.y - before.y) < 1e-3
        return after if same else None

    return wait_until(still, what=f'{robot_id} standing still')


def _waiting_at(run: GoalRun, table_id: str) -> bool:
    last = run.feedback[-1][1] if run.feedback else None
    return last is not None and last.stage == 'waiting_pickup' and last.next_stop == table_id


def _at_dock(cfg: RestaurantConfig, robot_id: str, state: RobotState) -> bool:
    robot = next(r for r in cfg.serving_robots if r.id == robot_id)
    dock = cfg.floor.points[robot.dock]
    return math.hypot(state.x - dock.x, state.y - dock.y) < 0.05


def test_delivers_a_two_stop_trip(
    robots: dict[str, subprocess.Popen], ros: RosClient, demo_config: RestaurantConfig
) -> None:
    states = ros.watch_state('serve1')
    ros.wait_for_state('serve1', lambda s: _at_dock(demo_config, 'serve1', s))
    run = ros.deliver('serve1', 'trip-two', ['t03', 't16'])
    for table in ('t03', 't16'):
        wait_until(partial(_waiting_at, run, table), 30, what=f'arrival at {table}')
        early = ros.confirm_pickup('serve1', 'trip-two', 't16')
        if table == 't03':
            assert not early.accepted and 'not at table' in early.message
        assert ros.confirm_pickup('serve1', 'trip-two', table).accepted
    result = run.result(60)
    assert (result.outcome, [r.outcome for r in result.results]) == (
        'completed',
        [StopResult.DELIVERED, StopResult.DELIVERED],
    )
    assert run.stages() == ['to_pass', 'to_table', 'waiting_pickup', 'returning']
    legs = _leg_times(run)
    assert legs and min(rates(times) for times in legs) >= 5.0
    assert ros.confirm_pickup('serve1', 'trip-two', 't03').message == 'already confirmed'
    idle = ros.wait_for_state('serve1', lambda s: s.mode == RobotState.MODE_IDLE)
    assert _at_dock(demo_config, 'serve1', idle)
    msgs = states.snapshot()
    assert rates([t for t, _ in msgs]) >= 2.0
    for times in legs:
        assert rates([t for t, _ in msgs if times[0] <= t <= times[-1]]) >= 5.0
    # A resent trip id gets the stored result, without driving again.
    assert ros.deliver('serve1', 'trip-two', ['t03', 't16']).result().outcome == 'completed'


def test_pickup_timeout_brings_food_back(
    robots: dict[str, subprocess.Popen], ros: RosClient, demo_config: RestaurantConfig
) -> None:
    ros.wait_for_state('serve2', lambda s: s.mode == RobotState.MODE_IDLE)
    run = ros.deliver('serve2', 'trip-timeout', ['t05'])
    result = run.result(60)
    assert result.outcome == 'failed'
    assert [(r.table_id, r.outcome) for r in result.results] == [('t05', StopResult.NOT_PICKED_UP)]
    returning = [fb.next_stop for _, fb in run.feedback if fb.stage == 'returning']
    assert returning[0] == demo_config.floor.pass_point.id and returning[-1] == 'dock2'
    late = ros.confirm_pickup('serve2', 'trip-timeout', 't05')
    assert not late.accepted
    idle = ros.wait_for_state('serve2', lambda s: s.mode == RobotState.MODE_IDLE)
    assert _at_dock(demo_config, 'serve2', idle)


def test_serving_pause_estop_dock_and_cancel(
    robots: dict[str, subprocess.Popen], ros: RosClient, demo_config: RestaurantConfig
) -> None:
    robot = 'serve1'
    ros.wait_for_state(robot, lambda s: s.mode == RobotState.MODE_IDLE)
    run = ros.deliver(robot, 'trip-ctl', ['t13'])
    wait_until(lambda: _moving_times(run, 'to_table'), 30, what='driving to the table')
    busy = ros.control(robot, 'dock')
    assert not busy.accepted and 'trip-ctl' in busy.message
    other = ros.deliver(robot, 'trip-other', ['t01']).result()
    assert other.outcome == 'rejected' and 'busy' in other.reason

    assert ros.control(robot, 'pause').accepted
    ros.wait_for_state(robot, lambda s: s.mode == RobotState.MODE_PAUSED)
    paused = _settled(ros, robot)
    time.sleep(0.5)
    still = ros.wait_for_state(robot)
    assert still.mode == RobotState.MODE_PAUSED
    assert (still.x, still.y) == pytest.approx((paused.x, paused.y), abs=0.05)
    assert ros.control(robot, 'resume').accepted
    wait_until(
        lambda: (
            (m := ros.watch_state(robot).latest())
            and m.mode == RobotState.MODE_BUSY
            and math.hypot(m.x - still.x, m.y - still.y) > 0.1
        ),
        what='moving again',
    )

    assert ros.control(robot, 'estop').accepted
    ros.wait_for_state(robot, lambda s: s.mode == RobotState.MODE_ESTOPPED)
    assert not ros.control(robot, 'resume').accepted
    assert ros.control(robot, 'release').accepted

    cancelled = ros.control(robot, 'cancel', 'trip-ctl')
    assert cancelled.accepted
    result = run.result(60)
    assert result.outcome == 'cancelled'
    assert [r.outcome for r in result.results] == [StopResult.FAILED]
    ros.wait_for_state(robot, lambda s: s.mode == RobotState.MODE_IDLE)
    assert ros.control(robot, 'dock').message == 'already at dock1'


# --- launch files --------------------------------------------------------------------------


@pytest.mark.skipif(
    importlib.util.find_spec('launch_ros') is None,
    reason='launch/launch_ros are not in the ROS 2 wheels; needs a system ROS 2 Jazzy',
)
@pytest.mark.parametrize('name', ['robots.launch.py', 'sim.launch.py'])
def test_launch_file_describes_the_robots(name: str) -> None:
    spec = importlib.util.spec_from_file_location(name.split('.')[0], LAUNCH_DIR / name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.generate_launch_description().entities
