"""A rogue rclpy node on the restaurant's DDS domain, without the robots' keys, tries every attack
of README "Security → ROS 2" against real robot processes and a real `robodine dispatcher`, and
changes nothing. The rogue is a RosClient with keys of its own (what it signs never verifies)."""

from __future__ import annotations

import asyncio
import subprocess
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from action_msgs.msg import GoalStatus
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.qos import QoSProfile, ReliabilityPolicy
from redis.asyncio import Redis
from restaurant_interfaces.action import Cook
from restaurant_interfaces.msg import RobotState
from restaurant_interfaces.srv import Control

from orchestrator import redis_keys as keys
from orchestrator.config import RestaurantConfig
from orchestrator.settings import DEFAULT_CONFIG
from robot_nodes import auth
from robot_nodes import ledger as lg
from robot_nodes.ledger import Ledger
from tests.dispatch_support import Kitchen, ensure_groups, kitchen_running, wait_for, write_order
from tests.ros_helpers import (
    RosClient,
    start_robot_process,
    stop_process,
    wait_for_log,
    wait_until,
)

pytestmark = pytest.mark.ros
SCALE = 50.0
IDLE = RobotState.MODE_IDLE
SUCCEEDED = GoalStatus.STATUS_SUCCEEDED


@pytest.fixture(scope='module')
def ledger_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp('ledger')


@pytest.fixture(scope='module')
def robots(ledger_dir: Path) -> Iterator[None]:
    procs: list[subprocess.Popen] = [
        start_robot_process('cooking', 'wok1', DEFAULT_CONFIG, SCALE, ledger_dir),
        start_robot_process(
            'serving', 'serve1', DEFAULT_CONFIG, SCALE, ledger_dir, {'pickup_timeout_s': 3000.0}
        ),
    ]
    yield
    for proc in procs:
        stop_process(proc)


@pytest.fixture(scope='module')
def ros(robots: None) -> Iterator[RosClient]:
    client = RosClient('security_test')
    client.wait_for_state('wok1', lambda s: s.mode == IDLE)
    yield client
    client.close()


@pytest.fixture(scope='module')
def rogue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RosClient]:
    client = RosClient('rogue', key_dir=tmp_path_factory.mktemp('rogue-keys'))
    yield client
    client.close()


def _entry(ledger_dir: Path, job_id: str) -> lg.Entry | None:
    ledger = Ledger.for_robot(ledger_dir, 'wok1')
    try:
        return ledger.get(job_id)
    finally:
        ledger.close()


def _refused_in_log(ledger_dir: Path, robot_id: str, what: str) -> str:
    return wait_for_log(ledger_dir / f'{robot_id}.log', f'refused unauthenticated {what}')


def _fresh_state(ros: RosClient, robot_id: str) -> RobotState:
    """A heartbeat sent after now."""
    now = auth.now_ns()
    return ros.wait_for_state(
        robot_id, lambda s: s.stamp.sec * 10**9 + s.stamp.nanosec > now + 300_000_000
    )


# --- against the robots ----------------------------------------------------------------------


def test_rogue_cannot_estop_or_release(ros: RosClient, rogue: RosClient, ledger_dir: Path) -> None:
    answer = rogue.control('wok1', 'estop')
    assert (answer.accepted, answer.message) == (False, 'unauthenticated')
    _refused_in_log(ledger_dir, 'wok1', 'control estop: bad MAC')
    assert _fresh_state(ros, 'wok1').mode == IDLE
    # An operator's e-stop holds against a rogue release.
    assert ros.control('wok1', 'estop').accepted
    assert not rogue.control('wok1', 'release').accepted
    assert _fresh_state(ros, 'wok1').mode == RobotState.MODE_ESTOPPED
    assert ros.control('wok1', 'release').accepted
    assert not rogue.confirm_pickup('serve1', 'trip-x', 't01').accepted
    _refused_in_log(ledger_dir, 'serve1', 'confirm_pickup trip-x: bad MAC')
    # A flood of them is one log line a while, not one each (the robot's log stays readable).
    for n in range(20):
        assert not rogue.confirm_pickup('serve1', f'trip-{n}', 't01').accepted
    log = (ledger_dir / 'serve1.log').read_text()
    assert log.count('refused unauthenticated confirm_pickup') == 1, log


def test_a_replayed_request_is_refused(ros: RosClient, ledger_dir: Path) -> None:
    """A rogue that records a genuine signed request and sends it again gets nowhere."""
    request = ros.sign('wok1', 'control', Control.Request(command='pause'))
    client = ros.service('wok1', 'control')
    assert ros.call(client, request).accepted
    assert ros.control('wok1', 'resume').accepted
    replayed = ros.call(client, request)
    assert (replayed.accepted, replayed.message) == (False, 'unauthenticated')
    _refused_in_log(ledger_dir, 'wok1', 'control pause: replayed')
    assert _fresh_state(ros, 'wok1').mode == IDLE


def test_rogue_cannot_cancel_goals_send_goals_or_raise_epochs(
    ros: RosClient, rogue: RosClient, ledger_dir: Path
) -> None:
    run = ros.cook('wok1', 'osec-00-00', epoch=1, cook_time_s=400)  # 8 s here
    wait_until(lambda: run.feedback, what='cooking')
    # Cancel through the control service, and through the action's own cancel.
    assert not rogue.control('wok1', 'cancel', 'osec-00-00', epoch=2**62).accepted
    assert not rogue.send_goal('wok1', 'cook', Cook.Goal()).is_accepted()  # an unsigned goal
    rogue_run = rogue.cook('wok1', 'osec-00-01', cook_time_s=10)
    assert not rogue_run.is_accepted()
    # A goal for the running job with a huge epoch, to fence the dispatcher out.
    assert not rogue.cook('wok1', 'osec-00-00', epoch=2**63, cook_time_s=400).is_accepted()
    # The robot's epoch did not move: the genuine goal of epoch 1 still joins the job.
    assert ros.cook('wok1', 'osec-00-00', epoch=1, cook_time_s=400).is_accepted()
    assert not run.cancel().goals_canceling
    wait_for_log(ledger_dir / 'wok1.log', "refused an action-level cancel of 'osec-00-00'")
    entry = _entry(ledger_dir, 'osec-00-00')
    assert entry is not None and entry.epoch == 1
    assert _entry(ledger_dir, 'osec-00-01') is None
    # A lease from the rogue confirms nothing either (checked by the robot like a goal).
    rogue.lease('wok1', [('osec-00-00', 1)], auth.now_ns() + 10**12)
    _refused_in_log(ledger_dir, 'wok1', 'lease: bad MAC')
    assert (run.status(), run.result().outcome) == (SUCCEEDED, Cook.Result.OUTCOME_COOKED)
    assert _entry(ledger_dir, 'osec-00-00').status == lg.DONE  # type: ignore[union-attr]


# --- against the dispatcher ------------------------------------------------------------------


@pytest.fixture
def kitchen(tmp_path: Path, demo_config: RestaurantConfig) -> Iterator[Kitchen]:
    with kitchen_running(demo_config, tmp_path, SCALE, 3000.0, ['bar1', 'noodle1']) as k:
        yield k


class Impostor:
    """A second `cook` action server for a robot, answering every goal at once as cooked (with
    a MAC made without the robot's key), and heartbeats sent in a robot's name."""

    def __init__(self, rogue: RosClient, robot_id: str) -> None:
        self.rogue, self.robot_id = rogue, robot_id
        self.goals = 0
        self.server = ActionServer(
            rogue.node,
            Cook,
            f'/robodine/{robot_id}/cook',
            execute_callback=self._cooked,
            goal_callback=lambda _g: GoalResponse.ACCEPT,
            cancel_callback=lambda _h: CancelResponse.ACCEPT,
        )
        self.beats: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)

    def _cooked(self, handle: Any) -> Cook.Result:
        self.goals += 1
        handle.succeed()
        goal = handle.request
        result = Cook.Result(outcome='cooked', job_id=goal.job_id, epoch=goal.epoch)
        result.robot_id, result.stamp_ns = self.robot_id, auth.now_ns()
        return auth.sign(b'\0' * auth.KEY_BYTES, 'cook.result', result)

    def beat(self, robot_id: str, msg: RobotState) -> None:
        with self._lock:
            if robot_id not in self.beats:
                self.beats[robot_id] = self.rogue.node.create_publisher(
                    RobotState, f'/robodine/{robot_id}/state', self._qos
                )
        self.beats[robot_id].publish(msg)


async def _cooked(r: Redis, job_id: str) -> bool:
    return await r.hget(keys.job(job_id), 'status') == 'cooked'


async def _alerts(r: Redis, kind: str, robot_id: str) -> list[dict[str, str]]:
    return [
        f
        for _, f in await r.xrange(keys.ALERTS)
        if f['kind'] == kind and f.get('robot_id') == robot_id
    ]


async def test_rogue_cannot_answer_for_a_robot_or_keep_a_dead_one_alive(
    kitchen: Kitchen,
    rogue: RosClient,
    redis_url: str,
    aredis: Redis,
    demo_config: RestaurantConfig,
) -> None:
    watcher = RosClient('security_watch')
    try:
        captured = watcher.wait_for_state('noodle1', lambda s: s.mode == IDLE, timeout=60)
        impostor = Impostor(rogue, 'bar1')
        # Both bar1's server and the impostor's are on the graph before the dispatcher starts.
        status = '/robodine/bar1/cook/_action/status'
        wait_until(lambda: rogue.node.count_publishers(status) == 2, 30, what='the impostor')
        await ensure_groups(aredis, demo_config)
        kitchen.start_dispatcher(redis_url)

        async def heard() -> bool:
            modes = [await aredis.hget(keys.robot(r), 'mode') for r in ('bar1', 'noodle1')]
            return modes == ['idle', 'idle']

        await wait_for(heard, 90, what='bar1 and noodle1 heard')
        # Iced teas (bar1 only; 90 s = 1.8 s here), until one reached the impostor too (the
        # dispatcher may discover it after the first goal): it answers "cooked" at once.
        for _ in range(10):
            _, (job_id,) = await write_order(aredis, demo_config, 't03', [('iced-tea', 1)])
            await wait_for(partial(_cooked, aredis, job_id), 60, what='the iced tea cooked')
            ledger = Ledger.for_robot(kitchen.ledger_dir, 'bar1')
            try:
                # Marked cooked only once bar1 had cooked it (its ledger is written first).
                entry = ledger.get(job_id)
                assert entry is not None and entry.status == lg.DONE
            finally:
                ledger.close()
            if impostor.goals:
                break
        assert impostor.goals >= 1
        assert await _alerts(aredis, 'ros_auth_failed', 'bar1')

        # noodle1 dies; the rogue keeps replaying its last genuine heartbeat and forging new
        # ones: it is lost all the same.
        kitchen.kill_robot('noodle1')
        forged = RobotState(robot_id='noodle1', kind='cooking', mode=IDLE, mac='0' * 64)

        async def impersonate() -> None:
            while True:
                forged.stamp = rogue.node.get_clock().now().to_msg()
                impostor.beat('noodle1', forged)
                impostor.beat('noodle1', captured)
                await asyncio.sleep(0.2)

        faking = asyncio.create_task(impersonate())
        try:
            await wait_for(
                lambda: _alerts(aredis, 'robot_lost', 'noodle1'), 60, what='noodle1 lost'
            )
            assert await aredis.hget(keys.robot('noodle1'), 'mode') == 'lost'
            await wait_for(
                lambda: _alerts(aredis, 'ros_auth_failed', 'noodle1'), 30, what='the alert'
            )
        finally:
            faking.cancel()
        log = kitchen.dispatcher_log(next(iter(kitchen.dispatchers)))
        assert 'refused from bar1: cook result' in log and 'refused from noodle1' in log
    finally:
        watcher.close()
