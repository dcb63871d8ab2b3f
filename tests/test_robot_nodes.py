"""Cooking and serving robot nodes as real processes, driven over DDS by a test-side client."""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import math
import signal
import subprocess
import time
import weakref
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from action_msgs.msg import GoalStatus
from restaurant_interfaces.action import Cook, Deliver
from restaurant_interfaces.msg import RobotState, StopResult

from orchestrator.config import RestaurantConfig
from orchestrator.dispatch import ros_bridge as fleet
from orchestrator.settings import DEFAULT_CONFIG
from orchestrator.store.trips import Stop
from robot_nodes import auth
from robot_nodes import ledger as lg
from robot_nodes.ledger import Ledger
from tests.ros_helpers import (
    GoalRun,
    RosClient,
    keys_for,
    rates,
    ros_client_fixture,
    start_robot_process,
    stop_process,
    wait_for_log,
    wait_until,
)

pytestmark = pytest.mark.ros
COOK_SCALE = 50.0
SERVE_SCALE = 10.0
# 100 s of nominal cooking = 2 s real at COOK_SCALE.
COOK_S = 100.0
SUCCEEDED, ABORTED, CANCELED = (
    GoalStatus.STATUS_SUCCEEDED,
    GoalStatus.STATUS_ABORTED,
    GoalStatus.STATUS_CANCELED,
)
COOKED, CANCELLED = Cook.Result.OUTCOME_COOKED, Cook.Result.OUTCOME_CANCELLED
COMPLETED, PARTIAL, FAILED, TRIP_CANCELLED = (
    Deliver.Result.OUTCOME_COMPLETED,
    Deliver.Result.OUTCOME_PARTIAL,
    Deliver.Result.OUTCOME_FAILED,
    Deliver.Result.OUTCOME_CANCELLED,
)
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


@pytest.fixture(scope='module')
def cook_feedback_matched(robots: dict[str, subprocess.Popen], ros: RosClient) -> None:
    """Short cooks on wok1 until one's feedback arrives: `wait_for_server` sees the action
    server in the ROS graph before DDS matches our feedback subscription, and a robot's first
    feedback ('queued') published in between is lost to the tests that count stages."""
    for attempt in range(20):
        run = ros.cook('wok1', f'owarm-00-{attempt:02d}', cook_time_s=5.0)
        assert run.status() == SUCCEEDED
        if run.feedback:
            return
    pytest.fail('no Cook feedback from wok1 in 20 goals')


@pytest.fixture
def wok1(cook_feedback_matched: None, ros: RosClient) -> str:
    ros.wait_for_state('wok1', lambda s: s.mode == RobotState.MODE_IDLE)
    return 'wok1'


def _cooked(ledger_dir: Path, robot_id: str) -> list[str]:
    ledger = Ledger.for_robot(ledger_dir, robot_id)
    try:
        return ledger.cooked_jobs()
    finally:
        ledger.close()


def _known(ledger_dir: Path, robot_id: str, job_id: str) -> lg.Entry | None:
    ledger = Ledger.for_robot(ledger_dir, robot_id)
    try:
        return ledger.get(job_id)
    finally:
        ledger.close()


def _entry(ledger_dir: Path, robot_id: str, job_id: str) -> lg.Entry:
    entry = _known(ledger_dir, robot_id, job_id)
    assert entry is not None, job_id
    return entry


def _rejection(ledger_dir: Path, robot_id: str, job_id: str) -> str:
    """The reason the robot logged for rejecting a goal (a rejection carries none over ROS)."""
    return wait_for_log(ledger_dir / f'{robot_id}.log', f"rejected goal '{job_id}'")


def _latest_stage(run: GoalRun) -> str:
    return run.feedback[-1][1].stage if run.feedback else ''


def _started(run: GoalRun) -> bool:
    return _latest_stage(run) not in ('', 'queued')


# --- cooking -------------------------------------------------------------------------------


def test_cook_reports_stages_in_order(wok1: str, ros: RosClient, ledger_dir: Path) -> None:
    run = ros.cook(wok1, 'ostages-00-00', cook_time_s=COOK_S)
    result = run.result()
    assert (run.status(), result.outcome, result.reason) == (SUCCEEDED, COOKED, '')
    assert run.stages() == ['queued', 'prep', 'cook', 'plate']
    progress = [fb.progress for _, fb in run.feedback]
    assert progress == sorted(progress) and progress[-1] > 0.8
    # cook_time_s / time_scale in total (feedback starts at acceptance; allow a loaded machine)
    span = run.feedback[-1][0] - run.feedback[0][0]
    assert 0.7 * COOK_S / COOK_SCALE < span < 4 * COOK_S / COOK_SCALE
    assert _cooked(ledger_dir, wok1).count('ostages-00-00') == 1


def test_a_heartbeat_without_news_goes_out_at_the_contract_floor(
    wok1: str, ros: RosClient
) -> None:
    # wok1 beats at 5 Hz (heartbeat_hz); idle, nothing in its state changes, so it says so at
    # IDLE_STATE_HZ (2 Hz, the contract's floor; its 5 Hz timer sends every 0.4 s): at most 9
    # in 3 s, not 15. A loaded machine only delays beats.
    log = ros.watch_state(wok1)
    seen = len(log.snapshot())
    time.sleep(3.0)
    idle = log.snapshot()[seen:]
    assert 3 <= len(idle) <= 9
    assert {tuple(m.current_jobs) for _, m in idle} == {()}
    # News goes out with the next tick: the job it takes, then the one it finished.
    run = ros.cook(wok1, 'obeat-00-00', cook_time_s=COOK_S)
    ros.wait_for_state(wok1, lambda s: list(s.current_jobs) == ['obeat-00-00'])
    assert run.status() == SUCCEEDED
    ros.wait_for_state(wok1, lambda s: not s.current_jobs)


def test_capacity_queues_the_extra_goal(wok1: str, ros: RosClient) -> None:
    runs = [ros.cook(wok1, f'ocap-00-{i:02d}', cook_time_s=COOK_S * 2) for i in range(3)]
    state = ros.wait_for_state(wok1, lambda s: len(s.current_jobs) == 3)
    assert state.mode == RobotState.MODE_BUSY
    wait_until(lambda: all(_started(r) for r in runs[:2]), what='two cooking')
    assert runs[2].stages() == ['queued']
    assert [(r.status(), r.result().outcome) for r in runs] == [(SUCCEEDED, COOKED)] * 3
    started = next(t for t, fb in runs[2].feedback if fb.stage == 'prep')
    first_done = min(r.feedback[-1][0] for r in runs[:2])
    assert started >= first_done - 0.05


def test_goals_it_cannot_cook_are_rejected(wok1: str, ros: RosClient, ledger_dir: Path) -> None:
    refused = {
        'ostation-00-00': ros.cook(wok1, 'ostation-00-00', station='dessert', dish_id='mochi'),
        'oquantity-00-00': ros.cook(wok1, 'oquantity-00-00', quantity=0),
        'onotime-00-00': ros.cook(wok1, 'onotime-00-00', dish_id='unknown', cook_time_s=0),
        '': ros.cook(wok1, ''),
    }
    for job_id, run in refused.items():
        assert not run.is_accepted(), job_id
        assert _known(ledger_dir, wok1, job_id) is None
    assert "'dessert' is not served by wok1" in _rejection(ledger_dir, wok1, 'ostation-00-00')
    assert 'quantity 0' in _rejection(ledger_dir, wok1, 'oquantity-00-00')
    assert "no cook time for dish 'unknown'" in _rejection(ledger_dir, wok1, 'onotime-00-00')
    assert 'job_id is empty' in _rejection(ledger_dir, wok1, '')


def test_paused_robot_rejects_new_jobs_and_answers_known_ones(
    wok1: str, ros: RosClient, ledger_dir: Path
) -> None:
    assert ros.cook(wok1, 'oknown-00-00', cook_time_s=10).status() == SUCCEEDED
    assert ros.control(wok1, 'pause').accepted
    try:
        assert not ros.cook(wok1, 'opaused-00-00', cook_time_s=10).is_accepted()
        assert 'paused by operator' in _rejection(ledger_dir, wok1, 'opaused-00-00')
        known = ros.cook(wok1, 'oknown-00-00', cook_time_s=10)
        assert (known.status(), known.result().outcome) == (SUCCEEDED, COOKED)
        assert ros.control(wok1, 'estop').accepted
        assert not ros.cook(wok1, 'oestop-00-00', cook_time_s=10).is_accepted()
        assert 'e-stopped' in _rejection(ledger_dir, wok1, 'oestop-00-00')
    finally:
        ros.control(wok1, 'release')
        ros.control(wok1, 'resume')
    ros.wait_for_state(wok1, lambda s: s.mode == RobotState.MODE_IDLE)
    assert ros.cook(wok1, 'opaused-00-00', cook_time_s=10).status() == SUCCEEDED


def test_duplicate_job_is_answered_from_the_ledger(
    wok1: str, ros: RosClient, ledger_dir: Path
) -> None:
    # Two goals for one job while it cooks: one cooking, both answered.
    first = ros.cook(wok1, 'odup-00-00', cook_time_s=COOK_S)
    wait_until(lambda: _started(first), what='cooking')
    second = ros.cook(wok1, 'odup-00-00', cook_time_s=COOK_S)
    assert first.result().outcome == second.result().outcome == COOKED
    assert first.status() == second.status() == SUCCEEDED
    # Once it is done, a resend gets the stored result at once, and succeeds again.
    t0 = time.monotonic()
    third = ros.cook(wok1, 'odup-00-00', cook_time_s=COOK_S)
    assert (third.status(), third.result().outcome) == (SUCCEEDED, COOKED)
    assert time.monotonic() - t0 < COOK_S / COOK_SCALE
    assert _cooked(ledger_dir, wok1).count('odup-00-00') == 1
    assert _entry(ledger_dir, wok1, 'odup-00-00').starts == 1


def test_lower_epoch_is_fenced(wok1: str, ros: RosClient, ledger_dir: Path) -> None:
    assert ros.cook(wok1, 'oepoch-00-00', epoch=2, cook_time_s=10).status() == SUCCEEDED
    assert not ros.cook(wok1, 'oepoch-00-00', epoch=1, cook_time_s=10).is_accepted()
    assert 'stale epoch 1 < 2' in _rejection(ledger_dir, wok1, 'oepoch-00-00')
    assert ros.cook(wok1, 'oepoch-00-00', epoch=3, cook_time_s=10).status() == SUCCEEDED
    entry = _entry(ledger_dir, wok1, 'oepoch-00-00')
    assert (entry.epoch, entry.starts) == (3, 1)


def test_cancel_withdraws_queued_and_wastes_started(wok1: str, ros: RosClient) -> None:
    # Long enough that nothing finishes on a busy machine: every one is cancelled anyway.
    runs = [ros.cook(wok1, f'ocancel-00-{i:02d}', cook_time_s=COOK_S * 50) for i in range(3)]
    wait_until(lambda: _started(runs[0]) and all(r.feedback for r in runs), what='all accepted')
    queued = ros.control(wok1, 'cancel', 'ocancel-00-02')
    assert queued.accepted and 'withdrawn' in queued.message
    started = ros.control(wok1, 'cancel', 'ocancel-00-00')
    assert started.accepted and 'wasted' in started.message
    # Cancelled by the control service, not by the action: CANCELED all the same.
    assert runs[2].result().outcome == runs[0].result().outcome == CANCELLED
    assert runs[2].status() == runs[0].status() == CANCELED
    again = ros.control(wok1, 'cancel', 'ocancel-00-00')
    assert not again.accepted and 'wasted' in again.message
    # The action's own cancel carries no MAC: refused (anyone could send it).
    assert not runs[1].cancel().goals_canceling
    assert ros.control(wok1, 'cancel', 'ocancel-00-01').accepted
    assert (runs[1].status(), runs[1].result().outcome) == (CANCELED, CANCELLED)
    resent = ros.cook(wok1, 'ocancel-00-00', cook_time_s=COOK_S * 50)
    assert (resent.status(), resent.result().outcome) == (CANCELED, CANCELLED)


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
    assert (run.status(), run.result().outcome) == (SUCCEEDED, COOKED)
    assert not ros.control(wok1, 'dock').accepted


def test_a_job_whose_lease_ran_out_is_held_until_a_lease_confirms_it(
    wok1: str, ros: RosClient, ledger_dir: Path
) -> None:
    job_id = 'olease-00-00'
    run = ros.cook(wok1, job_id, cook_time_s=COOK_S, lease_until_ns=auth.now_ns() + 300_000_000)
    # 2 s of cooking, 0.3 s of lease: held where it is, neither finished nor moved on.
    held = ros.wait_for_state(wok1, lambda s: 'held' in s.detail and job_id in s.current_jobs)
    assert list(held.job_epochs) == [0]
    entry = _entry(ledger_dir, wok1, job_id)
    assert (entry.status, entry.stage) == (lg.ACTIVE, 'prep')
    stage = _latest_stage(run)
    # A signed lease from a dispatcher: it goes on, and is cooked once.
    ros.lease(wok1, [(job_id, 0)], auth.now_ns() + 3600 * 10**9)
    assert run.status() == SUCCEEDED and stage == 'prep'
    assert (_entry(ledger_dir, wok1, job_id).starts, _cooked(ledger_dir, wok1).count(job_id)) == (
        1,
        1,
    )


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
        # Sent again if unanswered: a goal sent before the client matched the restarted
        # robot's action server is lost (beside a CPU hog, its state is heard first).
        assert resent.is_accepted()
        wait_until(lambda: resent.feedback, what='feedback after restart')
        assert resent.feedback[0][1].stage in ('cook', 'plate')
        assert resent.feedback[0][1].progress >= 0.2
        assert (resent.status(60), resent.result().outcome) == (SUCCEEDED, COOKED)
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
    assert (run.status(), result.outcome, [r.outcome for r in result.results]) == (
        SUCCEEDED,
        COMPLETED,
        [StopResult.DELIVERED, StopResult.DELIVERED],
    )
    assert run.stages() == ['to_pass', 'to_table', 'waiting_pickup', 'returning']
    legs = _leg_times(run)
    # Trip feedback at 2 Hz between stage changes (half of it on a loaded machine).
    assert legs and min(rates(times) for times in legs) >= 1.0
    assert ros.confirm_pickup('serve1', 'trip-two', 't03').message == 'already confirmed'
    idle = ros.wait_for_state('serve1', lambda s: s.mode == RobotState.MODE_IDLE)
    assert _at_dock(demo_config, 'serve1', idle)
    msgs = states.snapshot()
    assert rates([t for t, _ in msgs]) >= 2.0
    for times in legs:
        # At heartbeat_hz (5) while moving: the pose is news at every beat.
        assert rates([t for t, _ in msgs if times[0] <= t <= times[-1]]) >= 2.5
    # A resent trip id gets the stored result, without driving again.
    resent = ros.deliver('serve1', 'trip-two', ['t03', 't16'])
    assert (resent.status(), resent.result().outcome) == (SUCCEEDED, COMPLETED)


def test_pickup_timeout_brings_food_back(
    robots: dict[str, subprocess.Popen], ros: RosClient, demo_config: RestaurantConfig
) -> None:
    ros.wait_for_state('serve2', lambda s: s.mode == RobotState.MODE_IDLE)
    run = ros.deliver('serve2', 'trip-timeout', ['t05'])
    result = run.result(60)
    assert (run.status(), result.outcome) == (ABORTED, FAILED)
    assert [(r.table_id, r.outcome) for r in result.results] == [('t05', StopResult.NOT_PICKED_UP)]
    returning = [fb.next_stop for _, fb in run.feedback if fb.stage == 'returning']
    assert returning[0] == demo_config.floor.pass_point.id and returning[-1] == 'dock2'
    late = ros.confirm_pickup('serve2', 'trip-timeout', 't05')
    assert not late.accepted
    idle = ros.wait_for_state('serve2', lambda s: s.mode == RobotState.MODE_IDLE)
    assert _at_dock(demo_config, 'serve2', idle)
    # Answered again from the ledger: aborted again, with the same stops.
    resent = ros.deliver('serve2', 'trip-timeout', ['t05'])
    again = resent.result()
    assert (resent.status(), again.outcome) == (ABORTED, FAILED)
    assert [(r.table_id, r.outcome) for r in again.results] == [('t05', StopResult.NOT_PICKED_UP)]


def test_partial_trip_is_aborted(robots: dict[str, subprocess.Popen], ros: RosClient) -> None:
    ros.wait_for_state('serve2', lambda s: s.mode == RobotState.MODE_IDLE)
    run = ros.deliver('serve2', 'trip-partial', ['t02', 't03'])
    wait_until(partial(_waiting_at, run, 't02'), 30, what='arrival at t02')
    assert ros.confirm_pickup('serve2', 'trip-partial', 't02').accepted
    result = run.result(60)
    assert (run.status(), result.outcome) == (ABORTED, PARTIAL)
    assert [r.outcome for r in result.results] == [
        StopResult.DELIVERED,
        StopResult.NOT_PICKED_UP,
    ]


def test_serving_pause_estop_dock_and_cancel(
    robots: dict[str, subprocess.Popen], ros: RosClient, ledger_dir: Path
) -> None:
    robot = 'serve1'
    ros.wait_for_state(robot, lambda s: s.mode == RobotState.MODE_IDLE)
    run = ros.deliver(robot, 'trip-ctl', ['t13'])
    wait_until(lambda: _moving_times(run, 'to_table'), 30, what='driving to the table')
    busy = ros.control(robot, 'dock')
    assert not busy.accepted and 'trip-ctl' in busy.message
    assert not ros.deliver(robot, 'trip-other', ['t01']).is_accepted()
    assert 'busy with trip trip-ctl' in _rejection(ledger_dir, robot, 'trip-other')
    # The running trip's own id still joins it.
    joined = ros.deliver(robot, 'trip-ctl', ['t13'])
    assert joined.is_accepted()

    assert ros.control(robot, 'pause').accepted
    ros.wait_for_state(robot, lambda s: s.mode == RobotState.MODE_PAUSED)
    assert not ros.deliver(robot, 'trip-paused', ['t01']).is_accepted()
    assert 'paused by operator' in _rejection(ledger_dir, robot, 'trip-paused')
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
    assert (run.status(), result.outcome) == (CANCELED, TRIP_CANCELLED)
    assert [r.outcome for r in result.results] == [StopResult.FAILED]
    assert (joined.status(), joined.result().outcome) == (CANCELED, TRIP_CANCELLED)
    ros.wait_for_state(robot, lambda s: s.mode == RobotState.MODE_IDLE)
    assert ros.control(robot, 'dock').message == 'already at dock1'


# --- the dispatcher's bridge ---------------------------------------------------------------


def _response(action: type, status: int, **result: object) -> object:
    return action.Impl.GetResultService.Response(  # type: ignore[attr-defined]
        status=status,
        result=action.Result(**result),  # type: ignore[attr-defined]
    )


def test_bridge_outcome_follows_the_status() -> None:
    def cook(status: int, **result: object) -> fleet.GoalResult:
        return fleet.goal_result(_response(Cook, status, **result), fleet.COOKED, (fleet.FAILED,))

    cooked = cook(SUCCEEDED, outcome=COOKED)
    assert cooked == fleet.GoalResult(SUCCEEDED, COOKED, '') and cooked.succeeded
    # Never cooked unless SUCCEEDED, whatever the string says; an empty one reads as failed.
    assert cook(ABORTED, outcome=COOKED, reason='burnt') == fleet.GoalResult(
        ABORTED, fleet.FAILED, 'burnt'
    )
    assert cook(ABORTED).outcome == fleet.FAILED and not cook(ABORTED).succeeded
    assert cook(CANCELED).outcome == fleet.CANCELLED
    unknown = cook(GoalStatus.STATUS_UNKNOWN)
    assert (unknown.outcome, unknown.reason) == (fleet.FAILED, 'goal ended with status 0')

    stops = [StopResult(table_id='t02', outcome=StopResult.DELIVERED)]
    trip = fleet.goal_result(
        _response(Deliver, ABORTED, outcome=PARTIAL, results=stops),
        fleet.COMPLETED,
        (fleet.PARTIAL, fleet.FAILED),
    )
    assert (trip.outcome, [s.table_id for s in trip.stops]) == (PARTIAL, ['t02'])
    assert fleet.DELIVERED == StopResult.DELIVERED


class _Feedback:
    """A feedback callback whose life a test can follow."""

    def __call__(self, feedback: object) -> None:
        pass


async def test_bridge_over_dds(
    wok1: str, ros: RosClient, demo_config: RestaurantConfig, ledger_dir: Path
) -> None:
    ready: set[str] = set()

    def on_state(robot_id: str, state: dict) -> None:
        if state['ready']:
            ready.add(robot_id)

    ids = [r.id for r in demo_config.cooking_robots] + [r.id for r in demo_config.serving_robots]
    keys = auth.load_keys(keys_for(ids), ids)
    bridge = fleet.FleetBridge(demo_config, 'test', asyncio.get_running_loop(), on_state, keys)
    lease = auth.now_ns() + 3600 * 10**9
    bridge.start()
    try:
        while not {'wok1', 'serve1'} <= ready:
            await asyncio.sleep(0.05)
        job = {
            'job_id': 'obridge-00-00',
            'order_id': 'obridge',
            'dish_id': 'fried-rice',
            'station': 'wok',
            'cook_time_s': '10',
        }
        goal = await bridge.cook('wok1', job, 1, lambda _fb: None, lease)
        assert goal is not None and goal.result is not None
        assert await goal.result == fleet.GoalResult(SUCCEEDED, COOKED, '')

        # A rejected goal's feedback callback (which holds a dispatcher's whole trip or job)
        # is let go: rclpy keeps what it was given for good.
        sink = _Feedback()
        kept = weakref.ref(sink)
        stale = await bridge.cook('wok1', job, 0, sink, lease)
        assert stale is not None and stale.result is None
        assert 'stale epoch 0 < 1' in _rejection(ledger_dir, wok1, 'obridge-00-00')
        del sink
        gc.collect()
        assert kept() is None

        long = await bridge.cook(
            'wok1',
            {**job, 'job_id': 'obridge-00-01', 'cook_time_s': '3000'},
            0,
            lambda _fb: None,
            lease,
        )
        assert long is not None and long.result is not None
        assert (await bridge.control('wok1', 'cancel', 'obridge-00-01'))[0]
        cancelled = await long.result
        assert (cancelled.status, cancelled.outcome) == (CANCELED, fleet.CANCELLED)

        stop = Stop('nowhere', (0,), ('obridge',), ('fried rice',))
        trip = await bridge.deliver('serve1', 'trip-bridge', 0, [stop], lambda _fb: None)
        assert trip is not None and trip.result is None
        assert "unknown table 'nowhere'" in _rejection(ledger_dir, 'serve1', 'trip-bridge')
    finally:
        bridge.stop()


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
