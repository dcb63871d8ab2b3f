"""Reusable helpers for tests that talk to real robot node processes over DDS.

- `start_robot_process(...)` runs `robot_nodes.<kind>_robot` as its own process in the robot's
  namespace, logging to a file, `start_floor_plant(...)` the floor plant; `stop_process` ends
  them.
- `RosClient` is a test-side rclpy node on a private context, spun by a SingleThreadedExecutor
  in a background thread; its methods are called from the test thread and wait on conditions.
  It signs what it sends with the robots' keys from its key directory, as the dispatcher does
  (default: the test run's, which `start_robot_process` gives the robots); a client given
  another directory is a rogue node with keys of its own.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import Any, TypeVar

import rclpy
from rclpy.action import ActionClient
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.task import Future
from restaurant_interfaces.action import Cook, Deliver
from restaurant_interfaces.msg import DeliveryStop, Lease, RobotState
from restaurant_interfaces.srv import ConfirmPickup, Control

from orchestrator.bringup import floor_plant_command, ros_argv
from orchestrator.config import RestaurantConfig, Table
from orchestrator.settings import DEFAULT_CONFIG
from robot_nodes import auth
from robot_nodes.drivers.base import Point
from tests.api_helpers import wait_until

T = TypeVar('T')
KINDS = ('cooking', 'serving')
# A lease that outlasts any test: jobs sent by a test client are never held for want of one.
TEST_LEASE_S = 3600.0
# Seconds a test's goal waits for the robot's answer before it is sent again.
RESEND_S = 5.0


@cache
def test_key_dir() -> Path:
    """The robots' keys of this test run (made on demand, one per robot id; removed when the
    run ends)."""
    path = Path(tempfile.mkdtemp(prefix='robodine-test-keys-'))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def keys_for(robot_ids: Iterable[str]) -> Path:
    """The test run's key directory, with a key for each of `robot_ids` (a dispatcher's)."""
    auth.create_keys(test_key_dir(), robot_ids)
    return test_key_dir()


def robot_key(key_dir: Path, robot_id: str) -> bytes:
    auth.create_keys(key_dir, [robot_id])
    return auth.load_key(auth.key_path(key_dir, robot_id))


def robot_namespace(robot_id: str) -> str:
    return f'/robodine/{robot_id}'


def start_robot_process(
    kind: str,
    robot_id: str,
    config_path: str | Path | None = None,
    time_scale: float = 50.0,
    ledger_dir: str | Path = 'var/ledger',
    extra_params: dict[str, Any] | None = None,
    log_path: str | Path | None = None,
    key_dir: Path | None = None,
    wrap: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> subprocess.Popen:
    """Start a cooking or serving robot node process with its key from `key_dir` (default:
    the test run's); its output goes to `log_path` (default `<ledger_dir>/<robot_id>.log`,
    appended across restarts). `wrap` goes before its argv (e.g. `ip netns exec NS`), `env`
    over the environment."""
    assert kind in KINDS, kind
    key_dir = key_dir or test_key_dir()
    robot_key(key_dir, robot_id)
    params: dict[str, Any] = {
        'robot_id': robot_id,
        'key_file': str(auth.key_path(key_dir, robot_id)),
        'time_scale': float(time_scale),
        'ledger_dir': str(ledger_dir),
        **({'config_path': str(config_path)} if config_path else {}),
        **(extra_params or {}),
    }
    cmd = ros_argv(
        f'robot_nodes.{kind}_robot',
        {name: _param_text(value) for name, value in params.items()},
        f'__ns:={robot_namespace(robot_id)}',
        f'__node:={robot_id}',
    )
    Path(ledger_dir).mkdir(parents=True, exist_ok=True)
    log = Path(log_path or Path(ledger_dir) / f'{robot_id}.log')
    return start_logged([*wrap, *cmd], log, {**os.environ, 'PYTHONUNBUFFERED': '1', **(env or {})})


def start_logged(command: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    """A child process whose output (both streams) is appended to `log`: what happened
    before a test failed."""
    with log.open('ab') as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)


def ros_child_env() -> dict[str, str]:
    """The environment for a ROS child process (it re-runs the venv's ROS bootstrap)."""
    env = dict(os.environ)
    env.pop('_ROS_WHEELS_BOOTSTRAP_COMPLETE', None)
    env.pop('LD_LIBRARY_PATH', None)
    return env


def start_floor_plant(time_scale: float, robots: list[str] | None = None) -> subprocess.Popen:
    """The headless floor plant of the demo restaurant as its own process."""
    return subprocess.Popen(
        floor_plant_command(DEFAULT_CONFIG, time_scale, robots), env=ros_child_env()
    )


def start_nav2_standin(
    robot_id: str, at: Point, time_scale: float, log: Path, **params: float
) -> subprocess.Popen:
    """The tests' stand-in for a robot's Nav2 (tests/nav2_standin.py, its `params`) in the
    robot's namespace, as its own process, the robot standing at `at`."""
    argv = [sys.executable, str(Path(__file__).parent / 'nav2_standin.py'), '--ros-args']
    argv += ['-r', f'__ns:={robot_namespace(robot_id)}', '-p', f'time_scale:={float(time_scale)}']
    for name, value in {'x': at[0], 'y': at[1], **params}.items():
        argv += ['-p', f'{name}:={value}']
    return start_logged(argv, log, {**os.environ, 'PYTHONUNBUFFERED': '1'})


def table_tour(cfg: RestaurantConfig, start: str) -> Iterator[tuple[Table, list[Point]]]:
    """Every table stop from waypoint `start`, column by column, top to bottom (the columns
    only meet at the main aisle): each table with the path's points from the previous stop."""
    floor, here = cfg.floor, start
    for table in sorted(cfg.tables, key=lambda t: (t.x, -t.y)):
        route = floor.path(here, table.waypoint)
        yield table, [(floor.points[p].x, floor.points[p].y) for p in route]
        here = table.waypoint


def _param_text(value: Any) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, list | tuple):
        return '[' + ','.join(_param_text(v) for v in value) + ']'
    return str(value)


def wait_for_log(path: str | Path, text: str, timeout: float = 20.0) -> str:
    """The first line of a process's log file that contains `text` (the reason for a rejected
    goal is only told there)."""

    def line() -> str:
        lines = Path(path).read_text(errors='replace').splitlines() if Path(path).exists() else []
        return next((x for x in lines if text in x), '')

    return wait_until(line, timeout, 0.1, what=f'{text!r} in {path}')


def stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> int:
    """SIGINT (clean shutdown), then SIGKILL if it does not exit in time; returns the code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)
    return proc.returncode


@contextlib.contextmanager
def bare_node(name: str, namespace: str = '/robodine/serve1') -> Iterator[Node]:
    """A node in a context of its own, nothing spinning it: for a driver's unit test."""
    ctx = Context()
    rclpy.init(context=ctx)
    node = Node(name, namespace=namespace, context=ctx)
    try:
        yield node
    finally:
        node.destroy_node()
        rclpy.shutdown(context=ctx)


@dataclass
class StateLog:
    """Every RobotState received from one robot, with its arrival time (monotonic)."""

    messages: list[tuple[float, RobotState]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, msg: RobotState) -> None:
        with self.lock:
            self.messages.append((time.monotonic(), msg))

    def snapshot(self) -> list[tuple[float, RobotState]]:
        with self.lock:
            return list(self.messages)

    def latest(self) -> RobotState | None:
        with self.lock:
            return self.messages[-1][1] if self.messages else None


@dataclass
class GoalRun:
    """One action goal: its acceptance (or rejection), its feedback as it arrives, its terminal
    status (action_msgs GoalStatus) and result."""

    accepted: Future
    # Sends the goal again, signed anew (a replayed signature is refused), with its feedback
    # going to `on_feedback`.
    resend: Callable[[], Future] | None = None
    feedback: list[tuple[float, Any]] = field(default_factory=list)
    result_future: Future | None = None

    def on_feedback(self, msg: Any) -> None:
        self.feedback.append((time.monotonic(), msg.feedback))

    def is_accepted(self, timeout: float = 20.0) -> bool:
        """Whether the action server accepted the goal (False: it was REJECTED). Unanswered
        after RESEND_S, the goal goes again, as a dispatcher re-sends it: DDS matches a
        service's request and reply topics apart, so the first answer of a server just
        discovered can be lost (the robot answers the repeat from its ledger)."""
        deadline = time.monotonic() + timeout
        while not self.accepted.done() and self.resend is not None:
            left = deadline - time.monotonic()
            with contextlib.suppress(TimeoutError):
                wait_until(self.accepted.done, min(RESEND_S, left), what='goal acceptance')
            if left <= RESEND_S or self.accepted.done():
                break
            self.accepted = self.resend()
        left = max(0.0, deadline - time.monotonic())
        wait_until(self.accepted.done, left, what='goal acceptance')
        return bool(self.accepted.result().accepted)

    def handle(self, timeout: float = 20.0) -> Any:
        assert self.is_accepted(timeout), 'goal was rejected by the action server'
        return self.accepted.result()

    def response(self, timeout: float = 60.0) -> Any:
        """The GetResult response: `.status` and `.result`."""
        if self.result_future is None:
            self.result_future = self.handle(timeout).get_result_async()
        wait_until(self.result_future.done, timeout, what='goal result')
        return self.result_future.result()

    def result(self, timeout: float = 60.0) -> Any:
        return self.response(timeout).result

    def status(self, timeout: float = 60.0) -> int:
        """The terminal GoalStatus, e.g. GoalStatus.STATUS_SUCCEEDED."""
        return int(self.response(timeout).status)

    def stages(self) -> list[str]:
        """Distinct feedback stages in the order they first appeared."""
        seen: list[str] = []
        for _, fb in self.feedback:
            if fb.stage not in seen:
                seen.append(fb.stage)
        return seen

    def cancel(self, timeout: float = 20.0) -> Any:
        """An action-level cancel (robots refuse it); the CancelGoal response."""
        future = self.handle(timeout).cancel_goal_async()
        wait_until(future.done, timeout, what='cancel response')
        return future.result()


class RosClient:
    """A test-side node on its own rclpy context, spinning in a daemon thread."""

    def __init__(self, name: str = 'test_client', key_dir: Path | None = None) -> None:
        self.key_dir = key_dir or test_key_dir()
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = Node(name, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._clients: dict[tuple[str, str], Any] = {}
        self._states: dict[str, StateLog] = {}
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while self.context.ok():
            try:
                self.executor.spin_once(timeout_sec=0.05)
            except Exception:
                if self.context.ok():
                    raise
                return

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)
        self._thread.join(timeout=5)

    def __enter__(self) -> RosClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- endpoints ----------------------------------------------------------------------------

    def _endpoint(self, robot_id: str, name: str, make: Callable[[str], Any]) -> Any:
        with self._lock:
            key = (robot_id, name)
            if key not in self._clients:
                self._clients[key] = make(f'{robot_namespace(robot_id)}/{name}')
            return self._clients[key]

    def action_client(self, robot_id: str, kind: str, timeout: float = 30.0) -> ActionClient:
        action = {'cook': Cook, 'deliver': Deliver}[kind]
        client = self._endpoint(robot_id, kind, lambda name: ActionClient(self.node, action, name))
        if not client.wait_for_server(timeout_sec=timeout):
            raise TimeoutError(f'no {kind} action server for {robot_id}')
        return client

    def service(self, robot_id: str, name: str, timeout: float = 30.0) -> Any:
        srv = {'control': Control, 'confirm_pickup': ConfirmPickup}[name]
        client = self._endpoint(robot_id, name, lambda n: self.node.create_client(srv, n))
        if not client.wait_for_service(timeout_sec=timeout):
            raise TimeoutError(f'no {name} service for {robot_id}')
        return client

    # --- robot state --------------------------------------------------------------------------

    def watch_state(self, robot_id: str) -> StateLog:
        with self._lock:
            if robot_id not in self._states:
                log = StateLog()
                self._states[robot_id] = log
                qos = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
                self.node.create_subscription(
                    RobotState, f'{robot_namespace(robot_id)}/state', log.add, qos
                )
            return self._states[robot_id]

    def wait_for_state(
        self,
        robot_id: str,
        predicate: Callable[[RobotState], bool] = lambda _msg: True,
        timeout: float = 30.0,
    ) -> RobotState:
        """The first RobotState from now on (or the latest) that satisfies `predicate`."""
        log = self.watch_state(robot_id)

        def match() -> RobotState | None:
            latest = log.latest()
            return latest if latest is not None and predicate(latest) else None

        return wait_until(match, timeout, what=f'state of {robot_id}')

    # --- calls --------------------------------------------------------------------------------

    def sign(self, robot_id: str, kind: str, msg: Any) -> Any:
        """Address `msg` to the robot, stamp it now and sign it with our key for it."""
        msg.robot_id, msg.stamp_ns = robot_id, auth.now_ns()
        return auth.sign(robot_key(self.key_dir, robot_id), kind, msg)

    def call(self, client: Any, request: Any, timeout: float = 20.0) -> Any:
        future = client.call_async(request)
        wait_until(future.done, timeout, what=f'{client.srv_name} response')
        return future.result()

    def control(
        self, robot_id: str, command: str, job_id: str = '', epoch: int = 0
    ) -> Control.Response:
        request = Control.Request(command=command, job_id=job_id, epoch=epoch)
        self.sign(robot_id, 'control', request)
        return self.call(self.service(robot_id, 'control'), request)

    def confirm_pickup(self, robot_id: str, trip_id: str, table_id: str) -> ConfirmPickup.Response:
        request = ConfirmPickup.Request(trip_id=trip_id, table_id=table_id)
        self.sign(robot_id, 'confirm_pickup', request)
        return self.call(self.service(robot_id, 'confirm_pickup'), request)

    def lease(self, robot_id: str, jobs: list[tuple[str, int]], valid_until_ns: int) -> None:
        """Publish a signed lease on the robot's `lease` topic, as a dispatcher does."""
        msg = Lease(
            job_ids=[j for j, _ in jobs],
            epochs=[e for _, e in jobs],
            valid_until_ns=valid_until_ns,
        )
        self.sign(robot_id, 'lease', msg)
        name = f'{robot_namespace(robot_id)}/lease'
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self._endpoint(robot_id, 'lease', lambda _: self.node.create_publisher(Lease, name, qos))
        self._clients[(robot_id, 'lease')].publish(msg)

    def send_goal(
        self, robot_id: str, kind: str, goal: Any, sign: Callable[[Any], Any] | None = None
    ) -> GoalRun:
        """Send a goal as it is, or signed by `sign` (then re-sent if unanswered, see
        `GoalRun.is_accepted`)."""
        client = self.action_client(robot_id, kind)
        run = GoalRun(accepted=Future())

        def send() -> Future:
            signed = goal if sign is None else sign(goal)
            return client.send_goal_async(signed, feedback_callback=run.on_feedback)

        run.accepted = send()
        run.resend = None if sign is None else send
        return run

    def cook(self, robot_id: str, job_id: str, **fields: Any) -> GoalRun:
        """Send a Cook goal; `fields` default to a 1-unit 'wok' dish of 60 s, epoch 0."""
        goal = Cook.Goal(
            job_id=job_id,
            order_id=fields.pop('order_id', job_id.split('-')[0]),
            dish_id=fields.pop('dish_id', 'fried-rice'),
            station=fields.pop('station', 'wok'),
            options=fields.pop('options', []),
            quantity=fields.pop('quantity', 1),
            cook_time_s=float(fields.pop('cook_time_s', 60.0)),
            epoch=fields.pop('epoch', 0),
            lease_until_ns=fields.pop('lease_until_ns', auth.now_ns() + int(TEST_LEASE_S * 1e9)),
        )
        assert not fields, f'unknown Cook goal fields {sorted(fields)}'
        return self.send_goal(robot_id, 'cook', goal, partial(self.sign, robot_id, 'cook.goal'))

    def deliver(
        self, robot_id: str, trip_id: str, stops: Iterable[DeliveryStop | str], epoch: int = 0
    ) -> GoalRun:
        """Send a Deliver goal; a bare table id becomes a stop with the next free tray."""
        built = [
            s if isinstance(s, DeliveryStop) else DeliveryStop(table_id=s, trays=[i])
            for i, s in enumerate(stops)
        ]
        goal = Deliver.Goal(trip_id=trip_id, epoch=epoch, stops=built)
        return self.send_goal(
            robot_id, 'deliver', goal, partial(self.sign, robot_id, 'deliver.goal')
        )


def ros_client_fixture(name: str = 'test_client') -> Iterator[RosClient]:
    """Body of a pytest fixture: `yield from ros_client_fixture()`."""
    client = RosClient(name)
    try:
        yield client
    finally:
        client.close()


def rates(times: list[float]) -> float:
    """Messages per second over the span of `times` (0 if fewer than two)."""
    if len(times) < 2 or times[-1] <= times[0]:
        return 0.0
    return (len(times) - 1) / (times[-1] - times[0])
