"""The ROS 2 side of the dispatcher: one rclpy node talking to every robot of the restaurant.

rclpy has no asyncio executor, so the node is spun by an executor in its own thread
(`ros_executor.LeanExecutor`: rclpy's own walks every entity in Python for each message) and
every rclpy call is made on that thread: asyncio code hands a function over (`_in_ros`, woken by
a guard condition) and gets an asyncio future back; callbacks (heartbeats, feedback, results)
are handed to the event loop with `loop.call_soon_threadsafe`. The heartbeats have a node and
thread of their own: they are most of the messages.

A goal the robot refuses up front (station not served, busy, paused, stale epoch...) is
REJECTED: `Goal.result` is None. An accepted one ends SUCCEEDED (cooked / completed), ABORTED
(failed / partial) or CANCELED, and `Goal.result` resolves with a `GoalResult` whose outcome
always agrees with that status.

Authentication (`robot_nodes.auth`): goals, control requests, pickup confirmations and leases
go out signed with the robot's key; a heartbeat, result or answer that does not verify (wrong
MAC, another robot's id, another job or epoch, an old heartbeat) is dropped and reported to
`on_forgery`. A result that does not verify is asked for again, so a second action server of
the same name (a rogue node answering "cooked") can delay a result, never forge one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from itertools import chain
from typing import Any

import rclpy
import rclpy.task
from action_msgs.msg import GoalStatus
from rclpy.action import ActionClient
from rclpy.action.client import ClientGoalHandle
from rclpy.context import Context
from rclpy.event_handler import PublisherEventCallbacks, SubscriptionEventCallbacks
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from restaurant_interfaces.action import Cook, Deliver
from restaurant_interfaces.msg import Closures, DeliveryStop, Lease, RobotState, StopResult
from restaurant_interfaces.srv import ConfirmPickup, Control
from unique_identifier_msgs.msg import UUID

from orchestrator import closures
from orchestrator.config import RestaurantConfig
from orchestrator.dispatch.ros_executor import LeanExecutor
from orchestrator.store.trips import Stop
from robot_nodes import auth
from robot_nodes.ros_network import latched

log = logging.getLogger(__name__)

MODES = {
    RobotState.MODE_IDLE: 'idle',
    RobotState.MODE_BUSY: 'busy',
    RobotState.MODE_PAUSED: 'paused',
    RobotState.MODE_CHARGING: 'charging',
    RobotState.MODE_FAULT: 'fault',
    RobotState.MODE_ESTOPPED: 'estopped',
}
# Goal ids are derived from (job or trip id, epoch), so a re-sent goal is recognisable.
GOAL_NAMESPACE = uuid.UUID('5b3f1c52-8d0e-4f57-9a41-1d2f0c7e6a10')
# How long to wait for a robot to accept or refuse a goal / answer a service call.
ANSWER_TIMEOUT_S = 5.0
# A robot's action server found in the graph is looked for again after this long; one not
# found, every REACHABLE_EVERY_S.
REACHABLE_CACHE_S = 1.0
REACHABLE_EVERY_S = 0.2
# Real seconds before a result that did not verify is asked for again.
RESULT_RETRY_S = 0.5
# Seconds between two log lines of refusals of one robot: a robot with the wrong key
# sends 2-5 heartbeats a second, each refused (the console alert is throttled the same way).
REFUSAL_LOG_EVERY_S = 30.0

# Result outcomes (`GoalResult.outcome`). Cook: COOKED, FAILED, CANCELLED; Deliver: COMPLETED,
# PARTIAL, FAILED, CANCELLED (the two actions spell failed and cancelled the same).
COOKED = Cook.Result.OUTCOME_COOKED
COMPLETED = Deliver.Result.OUTCOME_COMPLETED
PARTIAL = Deliver.Result.OUTCOME_PARTIAL
FAILED = Cook.Result.OUTCOME_FAILED
CANCELLED = Cook.Result.OUTCOME_CANCELLED
# Outcomes of one stop of a trip (`StopResult.outcome`).
DELIVERED, NOT_PICKED_UP = StopResult.DELIVERED, StopResult.NOT_PICKED_UP


def goal_uuid(key: str, epoch: int) -> UUID:
    return UUID(uuid=list(uuid.uuid5(GOAL_NAMESPACE, f'{key}/{epoch}').bytes))


def ns(robot_id: str, name: str) -> str:
    return f'/robodine/{robot_id}/{name}'


@dataclass(frozen=True)
class GoalResult:
    """How an accepted goal ended. `outcome` follows `status` whatever the robot's string says:
    COOKED / COMPLETED only when SUCCEEDED, CANCELLED when CANCELED, else FAILED (or PARTIAL)."""

    # action_msgs GoalStatus: STATUS_SUCCEEDED, STATUS_ABORTED or STATUS_CANCELED
    status: int
    outcome: str
    reason: str
    # Deliver: the StopResult of each stop (`.table_id`, `.outcome`, `.reason`).
    stops: tuple[Any, ...] = ()

    @property
    def succeeded(self) -> bool:
        return bool(self.status == GoalStatus.STATUS_SUCCEEDED)  # action_msgs is untyped


def goal_result(response: Any, succeeded: str, aborted: tuple[str, ...]) -> GoalResult:
    """A GetResult response as a GoalResult: `succeeded` is the action's success outcome,
    `aborted` the outcomes an aborted goal may carry (anything else reads as FAILED)."""
    status, result = int(response.status), response.result
    reason = str(result.reason)
    if status == GoalStatus.STATUS_SUCCEEDED:
        outcome = succeeded
    elif status == GoalStatus.STATUS_CANCELED:
        outcome = CANCELLED
    else:
        outcome = result.outcome if result.outcome in aborted else FAILED
        if status != GoalStatus.STATUS_ABORTED:
            # e.g. UNKNOWN: the robot no longer knows the goal
            reason = reason or f'goal ended with status {status}'
    return GoalResult(status, outcome, reason, tuple(getattr(result, 'results', ())))


@dataclass
class Goal:
    """A goal the robot answered: `result` resolves with its GoalResult, or is None when the
    robot REJECTED the goal (it logs why)."""

    robot_id: str
    handle: ClientGoalHandle
    result: asyncio.Future[GoalResult] | None


StateCallback = Callable[[str, dict[str, Any]], None]
FeedbackCallback = Callable[[Any], None]
# (robot id, what did not verify): on the event loop.
ForgeryCallback = Callable[[str, str], None]


class FleetBridge:
    def __init__(
        self,
        cfg: RestaurantConfig,
        name: str,
        loop: asyncio.AbstractEventLoop,
        on_state: StateCallback,
        keys: dict[str, bytes],
        on_forgery: ForgeryCallback | None = None,
    ) -> None:
        """`keys`: every robot's key (`robot_nodes.auth.load_keys`)."""
        self._cfg = cfg
        self._loop = loop
        self._on_state = on_state
        self._keys = keys
        self._on_forgery = on_forgery
        # The stamp of the last authentic heartbeat of each robot (older ones are replays).
        self._last_beat: dict[str, int] = {}
        # Refusals logged once per robot a while (a robot with the wrong key beats 2-5 a second).
        self._refusals = auth.LogThrottle(REFUSAL_LOG_EVERY_S)
        self._context = Context()
        rclpy.init(context=self._context)
        node_name = 'dispatcher_' + ''.join(c if c.isalnum() else '_' for c in name)
        # No parameter services (six per node, waited on for every message): the dispatcher's
        # settings come from its environment, not ROS parameters.
        lean = {
            'namespace': '/robodine',
            'context': self._context,
            'start_parameter_services': False,
        }
        self._node = Node(node_name, **lean)
        self._beats = Node(node_name + '_heartbeats', **lean)
        self._executor = LeanExecutor(context=self._context)
        self._executor.add_node(self._node)
        self._beat_executor = LeanExecutor(context=self._context)
        self._beat_executor.add_node(self._beats)
        self._calls: deque[Callable[[], None]] = deque()
        self._wake = self._node.create_guard_condition(self._drain)
        self._cook: dict[str, ActionClient] = {}
        self._deliver: dict[str, ActionClient] = {}
        self._control: dict[str, Any] = {}
        self._pickup: dict[str, Any] = {}
        self._lease: dict[str, Any] = {}
        self._reachable_at: dict[str, float] = {}
        # (job or trip id, epoch) -> where the feedback of that goal goes, while it may come.
        self._feedback: dict[tuple[str, int], FeedbackCallback] = {}
        # Heartbeats may come best-effort or reliable; best-effort subscribers match both.
        qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT)
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        for c in cfg.cooking_robots:
            self._cook[c.id] = ActionClient(self._node, Cook, ns(c.id, 'cook'))
            self._control[c.id] = self._node.create_client(Control, ns(c.id, 'control'))
            self._lease[c.id] = self._node.create_publisher(
                Lease,
                ns(c.id, 'lease'),
                reliable,
                # No QoS-event waitables: two per publisher, walked on every wake of the executor.
                event_callbacks=PublisherEventCallbacks(use_default_callbacks=False),
            )
        for s in cfg.serving_robots:
            self._deliver[s.id] = ActionClient(self._node, Deliver, ns(s.id, 'deliver'))
            self._control[s.id] = self._node.create_client(Control, ns(s.id, 'control'))
            self._pickup[s.id] = self._node.create_client(
                ConfirmPickup, ns(s.id, 'confirm_pickup')
            )
        for robot_id in self._control:
            self._beats.create_subscription(
                RobotState,
                ns(robot_id, 'state'),
                partial(self._state, robot_id),
                qos,
                # No QoS-event waitable per subscription (best effort matches any writer).
                event_callbacks=SubscriptionEventCallbacks(use_default_callbacks=False),
            )
        # Latched: a traffic controller that starts later gets the last set.
        self._closures = self._node.create_publisher(
            Closures,
            closures.TOPIC,
            latched(depth=1),
            event_callbacks=PublisherEventCallbacks(use_default_callbacks=False),
        )
        self._serving_keys = [keys[s.id] for s in cfg.serving_robots]
        self._node.create_timer(REACHABLE_EVERY_S, self._check_reachable)
        self._threads = [
            threading.Thread(target=self._spin, args=(ex,), name=f'fleet-ros-{i}', daemon=True)
            for i, ex in enumerate((self._executor, self._beat_executor))
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        for executor in (self._executor, self._beat_executor):
            executor.shutdown(timeout_sec=2)
        # The executors' spins end before the nodes go: they do not hold the entities' handles.
        for thread in self._threads:
            thread.join(timeout=5)
        self._node.destroy_node()
        self._beats.destroy_node()
        rclpy.try_shutdown(context=self._context)

    @staticmethod
    def _spin(executor: LeanExecutor) -> None:
        with contextlib.suppress(ExternalShutdownException):
            executor.spin()

    # -- calls into the ROS thread --------------------------------------------------------

    def _drain(self) -> None:
        while self._calls:
            self._calls.popleft()()

    def _in_ros(self, fn: Callable[[], Any]) -> asyncio.Future[Any]:
        """Run `fn` on the ROS thread. If it returns an rclpy Future, the asyncio future
        resolves with that future's result."""
        out: asyncio.Future[Any] = self._loop.create_future()

        def deliver(value: Any, error: BaseException | None = None) -> None:
            if out.done():
                return
            if error is not None:
                out.set_exception(error)
            else:
                out.set_result(value)

        def call() -> None:
            try:
                value = fn()
            except Exception as e:  # handed to the awaiting coroutine
                self._loop.call_soon_threadsafe(deliver, None, e)
                return
            if isinstance(value, rclpy.task.Future):
                value.add_done_callback(
                    lambda f: self._loop.call_soon_threadsafe(deliver, f.result())
                )
            else:
                self._loop.call_soon_threadsafe(deliver, value)

        self._calls.append(call)
        self._wake.trigger()
        return out

    # -- heartbeats ----------------------------------------------------------------------

    def _forged(self, robot_id: str, what: str) -> None:
        # Throttled per robot (of the config: bounded), not per text, which carries what the
        # sender chose to send.
        if (more := self._refusals.due(robot_id)) is not None:
            log.error('refused from %s: %s%s', robot_id, what, more)
        if self._on_forgery is not None:
            self._loop.call_soon_threadsafe(self._on_forgery, robot_id, what)

    def _state(self, robot_id: str, msg: RobotState, info: dict[str, Any]) -> None:
        stamp = msg.stamp.sec * 1_000_000_000 + msg.stamp.nanosec
        if msg.robot_id != robot_id:
            self._forged(
                robot_id,
                f"heartbeat on {robot_id}'s state topic names robot {msg.robot_id!r} (a node "
                'whose robot_id parameter and namespace differ, or a forgery)',
            )
            return
        if not auth.verify(self._keys[robot_id], 'state', msg):
            self._forged(
                robot_id,
                "heartbeat with a bad MAC (the robot's key_file is not the key this dispatcher "
                f'has for it, ROBODINE_ROBOT_KEY_DIR/{robot_id}.key; or a forgery)',
            )
            return
        if abs(stamp - auth.now_ns()) > auth.FRESH_S * 1e9:
            self._forged(
                robot_id,
                f'heartbeat stamped more than {auth.FRESH_S:g} s from now (the clocks of the '
                "robot's and this machine differ: NTP; or it is replayed)",
            )
            return
        if stamp <= self._last_beat.get(robot_id, 0):
            return  # authentic but not newer: a late duplicate, or a replay of a recent one
        self._last_beat[robot_id] = stamp
        state = {
            'robot_id': robot_id,
            'kind': msg.kind,
            'mode': MODES.get(msg.mode, 'fault'),
            'jobs': list(msg.current_jobs),
            'epochs': dict(zip(msg.current_jobs, (int(e) for e in msg.job_epochs), strict=False)),
            'x': msg.x,
            'y': msg.y,
            'theta': msg.theta,
            'battery': msg.battery,
            'detail': msg.detail,
            # Goals are only sent once the robot's action server is discovered.
            'ready': robot_id in self._reachable_at,
            # Starts again at 1 when the robot's node restarts (a new DDS writer).
            'seq': info.get('publication_sequence_number'),
        }
        self._loop.call_soon_threadsafe(self._on_state, robot_id, state)

    def _check_reachable(self) -> None:
        """(Timer, main ROS thread.) Which robots' action servers are discovered: a graph
        query, so a positive answer stands for REACHABLE_CACHE_S (a restart is noticed by the
        heartbeat); heartbeats read the answer."""
        now = time.monotonic()
        for robot_id, client in chain(self._cook.items(), self._deliver.items()):
            if now - self._reachable_at.get(robot_id, -REACHABLE_CACHE_S) < REACHABLE_CACHE_S:
                continue
            if client.server_is_ready():
                self._reachable_at[robot_id] = now
            else:
                self._reachable_at.pop(robot_id, None)

    def forget_reachable(self, robot_id: str) -> None:
        """The robot restarted or went silent: check its action server again."""
        self._reachable_at.pop(robot_id, None)

    # -- goals and services --------------------------------------------------------------

    async def _send(
        self,
        client: ActionClient,
        robot_id: str,
        goal: Any,
        key: str,
        epoch: int,
        on_feedback: FeedbackCallback,
        convert: Callable[[Any], GoalResult],
        action: str,
    ) -> Goal | None:
        """Send a goal (signed here); None when the robot did not answer in time (restarting,
        gone). `action` is 'cook' or 'deliver'."""

        tag = (key, epoch)
        self._feedback[tag] = on_feedback

        def feedback(msg: Any) -> None:
            # Looked up, not captured: rclpy keeps this callback for good when the goal is
            # rejected or never answered (it drops it when a result request completes), and
            # `on_feedback` holds the dispatcher's whole trip or cook job.
            if (to := self._feedback.get(tag)) is not None:
                self._loop.call_soon_threadsafe(to, msg.feedback)

        def forget() -> None:
            if self._feedback.get(tag) is on_feedback:
                del self._feedback[tag]

        goal.robot_id, goal.stamp_ns = robot_id, auth.now_ns()
        auth.sign(self._keys[robot_id], f'{action}.goal', goal)

        sent = self._in_ros(
            lambda: client.send_goal_async(
                goal, feedback_callback=feedback, goal_uuid=goal_uuid(key, epoch)
            )
        )
        try:
            handle = await asyncio.wait_for(sent, ANSWER_TIMEOUT_S)
        except TimeoutError:
            log.warning('%s did not answer goal %s/%d', robot_id, key, epoch)
            forget()
            return None
        if not handle.accepted:
            forget()
            return Goal(robot_id, handle, None)

        async def result() -> GoalResult:
            try:
                while True:
                    response = await self._in_ros(handle.get_result_async)
                    refusal = self._result_refusal(robot_id, action, key, epoch, response)
                    if not refusal:
                        return convert(response)
                    if response.status != GoalStatus.STATUS_UNKNOWN or response.result.mac:
                        self._forged(robot_id, f'{action} result for {key}/{epoch}: {refusal}')
                    # else: a server that does not know the goal (restarted): ask again, as for
                    # a forgery; a re-sent goal replaces this one meanwhile.
                    await asyncio.sleep(RESULT_RETRY_S)
            finally:
                forget()

        return Goal(robot_id, handle, self._loop.create_task(result()))

    def _result_refusal(
        self, robot_id: str, action: str, key: str, epoch: int, response: Any
    ) -> str:
        res = response.result
        named = (res.robot_id, res.job_id if action == 'cook' else res.trip_id, int(res.epoch))
        if named != (robot_id, key, epoch):
            return f'names {named}'
        if not auth.verify(self._keys[robot_id], f'{action}.result', res):
            return 'bad MAC'
        return ''

    async def cook(
        self,
        robot_id: str,
        job: dict[str, str],
        epoch: int,
        on_feedback: FeedbackCallback,
        lease_until_ns: int,
    ) -> Goal | None:
        """`lease_until_ns`: until when (wall clock) our lease on the job lasts; the robot
        holds the job after it unless a `lease` renews it."""
        goal = Cook.Goal(
            job_id=job['job_id'],
            order_id=job['order_id'],
            dish_id=job['dish_id'],
            station=job['station'],
            options=list(json.loads(job.get('options') or '[]')),
            quantity=1,
            cook_time_s=float(job.get('cook_time_s') or 0.0),
            epoch=epoch,
            lease_until_ns=lease_until_ns,
        )
        return await self._send(
            self._cook[robot_id],
            robot_id,
            goal,
            job['job_id'],
            epoch,
            on_feedback,
            partial(goal_result, succeeded=COOKED, aborted=(FAILED,)),
            'cook',
        )

    async def deliver(
        self,
        robot_id: str,
        trip_id: str,
        epoch: int,
        stops: list[Stop],
        on_feedback: FeedbackCallback,
    ) -> Goal | None:
        goal = Deliver.Goal(
            trip_id=trip_id,
            epoch=epoch,
            stops=[
                DeliveryStop(
                    table_id=s.table_id,
                    trays=list(s.trays),
                    order_ids=list(s.order_ids),
                    items=list(s.items),
                )
                for s in stops
            ],
        )
        return await self._send(
            self._deliver[robot_id],
            robot_id,
            goal,
            trip_id,
            epoch,
            on_feedback,
            partial(goal_result, succeeded=COMPLETED, aborted=(PARTIAL, FAILED)),
            'deliver',
        )

    async def _call(self, client: Any, robot_id: str, kind: str, request: Any) -> tuple[bool, str]:
        """Call a robot's service with a signed request; an answer that does not verify (not
        the robot's, or for another request) counts as no answer."""
        key = self._keys[robot_id]
        request.robot_id, request.stamp_ns = robot_id, auth.now_ns()
        auth.sign(key, kind, request)
        if not await self._in_ros(client.service_is_ready):
            return False, 'robot not reachable'
        try:
            res = await asyncio.wait_for(
                self._in_ros(lambda: client.call_async(request)), ANSWER_TIMEOUT_S
            )
        except TimeoutError:
            return False, 'robot did not answer'
        if not auth.verify_answer(key, kind, request, res):
            self._forged(robot_id, f'{kind} answer with a bad MAC ({res.message!r})')
            return False, 'the answer did not verify (not from the robot)'
        return bool(res.accepted), str(res.message)

    async def control(
        self, robot_id: str, command: str, job_id: str = '', epoch: int = 0
    ) -> tuple[bool, str]:
        """`epoch`: for 'cancel', the job's current epoch (the robot learns it)."""
        if robot_id not in self._control:
            return False, f'unknown robot {robot_id!r}'
        request = Control.Request(command=command, job_id=job_id, epoch=epoch)
        return await self._call(self._control[robot_id], robot_id, 'control', request)

    async def confirm_pickup(self, robot_id: str, trip_id: str, table_id: str) -> tuple[bool, str]:
        if robot_id not in self._pickup:
            return False, f'{robot_id!r} is not a serving robot'
        request = ConfirmPickup.Request(trip_id=trip_id, table_id=table_id)
        return await self._call(self._pickup[robot_id], robot_id, 'confirm_pickup', request)

    def lease(self, robot_id: str, jobs: list[tuple[str, int]], valid_until_ns: int) -> None:
        """Tell a cooking robot (signed) that we hold these (job id, epoch) until then."""
        msg = Lease(
            robot_id=robot_id,
            job_ids=[job_id for job_id, _ in jobs],
            epochs=[epoch for _, epoch in jobs],
            valid_until_ns=valid_until_ns,
            stamp_ns=auth.now_ns(),
        )
        auth.sign(self._keys[robot_id], 'lease', msg)
        self._in_ros(lambda: self._lease[robot_id].publish(msg))

    def closures(self, closed: list[str], version: int) -> None:
        """Tell the traffic controller what is closed, signed with every serving robot's key
        (it holds them all; no single robot's key can forge it)."""
        msg = Closures(closed=closed, version=version, stamp_ns=auth.now_ns())
        auth.sign_by_all(self._serving_keys, 'closures', msg)
        self._in_ros(lambda: self._closures.publish(msg))
