"""What every robodine robot node shares: parameters, names, ledger, heartbeat and control.

A robot lives in the namespace `/robodine/<robot_id>`. Launch files set that namespace; when
a node is started bare (namespace '/'), it puts its names there itself, so `cooking_robot
--ros-args -p robot_id:=wok1` still serves `/robodine/wok1/cook`.

Control commands (`control` service) common to both kinds: pause, resume, estop, release.
The kinds add dock and cancel, and say what halting means for them (`apply_halt`).

Every goal, control request and pickup confirmation must carry a valid MAC made with this
robot's key (parameter `key_file`; `robot_nodes.auth`); anything else is refused and logged.
Results, answers and heartbeats go out signed with the same key.
"""

from __future__ import annotations

import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.action.server import GoalEvent, ServerGoalHandle
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.task import Future
from restaurant_interfaces.msg import RobotState
from restaurant_interfaces.srv import Control

from orchestrator.config import ConfigError, RestaurantConfig, load_restaurant
from robot_nodes import auth
from robot_nodes.drivers.base import DriverError
from robot_nodes.ledger import Ledger

NAMESPACE_ROOT = '/robodine'
# A heartbeat with nothing new in it goes out this often only (the contract's floor, Hz): thirty
# idle robots at 5 Hz were most of what an idle dispatcher spent, each dispatcher taking each.
IDLE_STATE_HZ = 2.0
STATE_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
# Real seconds a finished goal stays in the action server (rclpy's default: 900). Every status
# change publishes every goal it keeps, and every dispatcher decodes the whole list, so at a busy
# service a long retention costs the dispatchers more CPU with each dish. The dispatcher asks for
# a result as soon as the goal is accepted, and re-sends a goal whose result it lost (after
# `service.RESULT_LOST_AFTER_S`, 10 s), which the ledger answers.
RESULT_KEEP_S = 15


class RobotSetupError(ValueError):
    """Parameters that do not describe a usable robot; the message says which and why."""


class RobotNode(Node, ABC):
    KIND = ''
    # The result outcomes that end a goal SUCCEEDED and CANCELED; any other one ABORTED.
    OUTCOME_SUCCEEDED = ''
    OUTCOME_CANCELLED = ''
    # The action's name ('cook', 'deliver'): its goals and results are signed as '<name>.goal'
    # and '<name>.result'.
    ACTION = ''
    # The result's field that names the job ('job_id', 'trip_id').
    JOB_FIELD = ''

    def __init__(self, node_name: str, cli_args: list[str] | None = None) -> None:
        # cli_args: this node's own `--ros-args ...` (several robots in one process).
        super().__init__(node_name, cli_args=cli_args)
        self.robot_id: str = self.declare_parameter('robot_id', '').value
        if not self.robot_id:
            raise RobotSetupError('parameter robot_id is required (e.g. -p robot_id:=wok1)')
        config_path: str = self.declare_parameter('config_path', '').value
        self.time_scale = self.declare_number('time_scale', 1.0)
        self.driver_name: str = self.declare_parameter('driver', 'sim').value
        ledger_dir: str = self.declare_parameter('ledger_dir', 'var/ledger').value
        self.heartbeat_hz = self.declare_number('heartbeat_hz', 5.0)
        key_file: str = self.declare_parameter('key_file', '').value
        if not key_file:
            raise RobotSetupError(
                "parameter key_file is required: this robot's key, made by `robodine robots keys`"
            )
        try:
            self.key = auth.load_key(key_file)
        except auth.KeyFileError as e:
            raise RobotSetupError(str(e)) from e
        self.replay = auth.Replay()
        # Refused requests, one line per (message kind, refusal) a while: a dispatcher with the
        # wrong key renews leases and sends goals several times a second.
        self.refusals = auth.LogThrottle()
        if self.time_scale <= 0:
            raise RobotSetupError(f'time_scale must be > 0, got {self.time_scale}')
        if self.heartbeat_hz < 2.0:
            raise RobotSetupError(f'heartbeat_hz must be >= 2 (contract), got {self.heartbeat_hz}')
        self.config: RestaurantConfig | None = (
            load_restaurant(config_path) if config_path else None
        )
        self.ledger = Ledger.for_robot(Path(ledger_dir), self.robot_id)

        self.paused = False
        self.estopped = False
        self._action: ActionServer | None = None
        # Accepted goal (uuid bytes) -> its result, until its execute coroutine takes it.
        self._answers: dict[bytes, Future] = {}
        self._last_state_s = 0.0
        self.state_pub = self.create_publisher(RobotState, self.ros_name('state'), STATE_QOS)
        self.create_service(Control, self.ros_name('control'), self._on_control)
        self._said: dict[str, Any] | None = None
        self.create_timer(1.0 / self.heartbeat_hz, self._beat)

    def declare_number(self, name: str, default: float) -> float:
        """A float parameter that also takes an integer (`time_scale:=50`)."""
        descriptor = ParameterDescriptor(dynamic_typing=True)
        value = self.declare_parameter(name, default, descriptor).value
        try:
            return float(value)
        except (TypeError, ValueError):
            raise RobotSetupError(f'parameter {name} must be a number, got {value!r}') from None

    def ros_name(self, name: str) -> str:
        """`name` relative to the robot's namespace (see the module docstring)."""
        if self.get_namespace() != '/':
            return name
        return f'{NAMESPACE_ROOT}/{self.robot_id}/{name}'

    @property
    def halted(self) -> bool:
        return self.paused or self.estopped

    # --- goals -------------------------------------------------------------------------------

    def serve_goals(self, action_type: Any, name: str) -> None:
        """The robot's action server (`cook` or `deliver`). A goal that can be refused up front
        is REJECTED; a goal the ledger knows is answered from it (or joins the running job); a
        new one goes to `admit`. The terminal state follows the outcome (`terminate`)."""
        self._action = ActionServer(
            self,
            action_type,
            self.ros_name(name),
            execute_callback=self._execute,
            goal_callback=self._on_goal,
            handle_accepted_callback=self._on_accepted,
            cancel_callback=self._on_action_cancel,
            result_timeout=RESULT_KEEP_S,
        )

    def _on_action_cancel(self, handle: ServerGoalHandle) -> CancelResponse:
        # The action's cancel service carries no MAC: any node could cancel every goal with it.
        self.get_logger().error(
            f'refused an action-level cancel of {self.goal_job_id(handle.request)!r}: '
            'cancel with the (signed) control service'
        )
        return CancelResponse.REJECT

    def authentic(self, kind: str, msg: Any, what: str) -> bool:
        """Whether a signed request (goal, control, pickup, lease) is for this robot, carries
        a valid MAC and is fresh; a refusal is logged (the sender learns nothing more)."""
        if msg.robot_id != self.robot_id:
            refusal, why = 'addressed', f'addressed to {str(msg.robot_id)[:40]!r}'
        elif not auth.verify(self.key, kind, msg):
            refusal = why = 'bad MAC'
        else:
            why = self.replay.refusal(int(msg.stamp_ns), str(msg.mac))
            refusal = why.split(' ', 1)[0]
        if why and (more := self.refusals.due((kind, refusal))) is not None:
            self.get_logger().error(f'refused unauthenticated {what[:120]}: {why}{more}')
        return not why

    def _on_goal(self, goal: Any) -> GoalResponse:
        job_id = self.goal_job_id(goal)
        if not self.authentic(f'{self.ACTION}.goal', goal, f'goal {job_id!r}'):
            return GoalResponse.REJECT
        entry = self.ledger.get(job_id) if job_id else None
        if entry is None:
            refusal = self.refusal(goal)
        elif goal.epoch < entry.epoch:
            refusal = f'stale epoch {goal.epoch} < {entry.epoch}'
        else:
            return GoalResponse.ACCEPT
        if not refusal:
            return GoalResponse.ACCEPT
        # A rejected goal carries no reason over ROS: this log line is where it is told.
        self.get_logger().warning(f'rejected goal {job_id!r}: {refusal}')
        return GoalResponse.REJECT

    def _on_accepted(self, handle: ServerGoalHandle) -> None:
        # rclpy calls this right after `_on_goal` without yielding to the executor (both are
        # plain functions), so what `_on_goal` checked still holds: admitting here, not in the
        # execute coroutine (a later task), is what keeps a second trip from slipping in.
        done: Future = Future()
        self._answers[bytes(handle.goal_id.uuid)] = done
        goal = handle.request
        job_id = self.goal_job_id(goal)
        entry = self.ledger.get(job_id)
        if entry is None:
            self.admit(handle, done)
        else:
            self.ledger.raise_epoch(job_id, goal.epoch)
            if entry.final:
                assert entry.result is not None
                done.set_result(entry.result)
            else:
                self.attach(job_id, handle, done)
        handle.execute()

    async def _execute(self, handle: ServerGoalHandle) -> Any:
        result = await self._answers.pop(bytes(handle.goal_id.uuid))
        self.terminate(handle, result['outcome'])
        msg = self.result_msg(result)
        # Signed for this goal's job and epoch: an answer for another one cannot pass for it.
        msg.robot_id, msg.epoch = self.robot_id, handle.request.epoch
        setattr(msg, self.JOB_FIELD, self.goal_job_id(handle.request))
        msg.stamp_ns = auth.now_ns()
        return auth.sign(self.key, f'{self.ACTION}.result', msg)

    def terminate(self, handle: ServerGoalHandle, outcome: str) -> None:
        """End the goal in the state its outcome means; a goal answered from the ledger ends
        as the first one did."""
        if outcome == self.OUTCOME_SUCCEEDED:
            handle.succeed()
        elif outcome == self.OUTCOME_CANCELLED:
            # Cancelled by the signed `control` service (the action's own cancel is refused),
            # but rcl_action reaches CANCELED only from CANCELING, and rclpy has no public call
            # for that step (rclcpp's try_canceling takes it the same way).
            handle._update_state(GoalEvent.CANCEL_GOAL)
            handle.canceled()
        else:
            handle.abort()

    @abstractmethod
    def goal_job_id(self, goal: Any) -> str:
        """The ledger key of a goal (job id, trip id)."""

    @abstractmethod
    def refusal(self, goal: Any) -> str:
        """Why a goal for a job the ledger does not know is refused ('' to accept it)."""

    @abstractmethod
    def admit(self, handle: ServerGoalHandle, done: Future) -> None:
        """Start a new goal that `refusal` let through; `done` gets the result."""

    @abstractmethod
    def attach(self, job_id: str, handle: ServerGoalHandle, done: Future) -> None:
        """A repeated goal for a running job: it gets the job's result too."""

    @abstractmethod
    def result_msg(self, result: dict[str, Any]) -> Any:
        """The action's Result message of a stored result."""

    # --- state -------------------------------------------------------------------------------

    @abstractmethod
    def busy(self) -> bool: ...

    @abstractmethod
    def current_jobs(self) -> list[tuple[str, int]]:
        """(job or trip id, the epoch the robot holds for it) of the work in progress."""

    @abstractmethod
    def pose(self) -> tuple[float, float, float]: ...

    def detail(self) -> str:
        return ''

    def battery_level(self) -> float:
        """0-1; cooking robots stay on mains."""
        return 1.0

    def mode(self) -> int:
        if self.estopped:
            return RobotState.MODE_ESTOPPED
        if self.paused:
            return RobotState.MODE_PAUSED
        return RobotState.MODE_BUSY if self.busy() else RobotState.MODE_IDLE

    def _state(self) -> dict[str, Any]:
        """What a heartbeat says now (all but its stamp and MAC)."""
        x, y, theta = self.pose()
        jobs = self.current_jobs()
        return {
            'robot_id': self.robot_id,
            'kind': self.KIND,
            'mode': self.mode(),
            'current_jobs': [job_id for job_id, _ in jobs],
            'job_epochs': [epoch for _, epoch in jobs],
            'x': float(x),
            'y': float(y),
            'theta': float(theta),
            'battery': float(self.battery_level()),
            'detail': self.detail(),
        }

    @staticmethod
    def _news(state: dict[str, Any]) -> dict[str, Any]:
        """The part of a heartbeat whose change is news: the battery to the percent the console
        shows (a serving robot's drains all the time, a little)."""
        return state | {'battery': round(state['battery'], 2)}

    def _beat(self) -> None:
        """The heartbeat timer: a state with news goes out at once, an unchanged one at
        `IDLE_STATE_HZ` (whichever tick comes first from then on). A moving robot's pose is
        news at every tick: it beats at `heartbeat_hz`, which is what the dispatchers need (they
        put a moving robot on the console's map twice a second); the floor's collision
        checks follow the faster pose reports of `drivers.neighbours`."""
        state = self._state()
        quiet_s = time.monotonic() - self._last_state_s
        if self._news(state) == self._said and quiet_s + 1.0 / self.heartbeat_hz <= (
            1.0 / IDLE_STATE_HZ
        ):
            return
        self.publish_state(state)

    def publish_state(self, state: dict[str, Any] | None = None) -> None:
        state = state or self._state()
        msg = RobotState(**state)
        msg.stamp = self.get_clock().now().to_msg()
        self.state_pub.publish(auth.sign(self.key, 'state', msg))
        self._said = self._news(state)
        self._last_state_s = time.monotonic()

    # --- control -----------------------------------------------------------------------------

    @abstractmethod
    def apply_halt(self) -> None:
        """Make the drivers follow `self.halted` (stop or carry on)."""

    @abstractmethod
    def control_dock(self) -> tuple[bool, str]: ...

    @abstractmethod
    def control_stage(self) -> tuple[bool, str]: ...

    @abstractmethod
    def control_cancel(self, job_id: str) -> tuple[bool, str]: ...

    def _on_control(self, req: Control.Request, resp: Control.Response) -> Control.Response:
        if not self.authentic('control', req, f'control {req.command}'):
            resp.accepted, resp.message = False, 'unauthenticated'
            return auth.sign_answer(self.key, 'control', req, resp)
        if req.command == 'cancel' and req.epoch:
            # The dispatcher names the job's current epoch: goals below it are stale from now.
            self.ledger.raise_epoch(req.job_id, int(req.epoch))
        handlers: dict[str, Callable[[], tuple[bool, str]]] = {
            'pause': self._pause,
            'resume': self._resume,
            'estop': self._estop,
            'release': self._release,
            'dock': self.control_dock,
            'stage': self.control_stage,
            'cancel': lambda: self.control_cancel(req.job_id),
        }
        handler = handlers.get(req.command)
        if handler is None:
            resp.accepted, resp.message = False, f'unknown command {req.command!r}'
        else:
            resp.accepted, resp.message = handler()
        self.get_logger().info(
            f'control {req.command} {req.job_id}: {"ok" if resp.accepted else "refused"} '
            f'{resp.message}'
        )
        self.publish_state()
        return auth.sign_answer(self.key, 'control', req, resp)

    def _pause(self) -> tuple[bool, str]:
        self.paused = True
        self.apply_halt()
        return True, 'paused'

    def _resume(self) -> tuple[bool, str]:
        if self.estopped:
            return False, 'e-stopped: release the e-stop first'
        self.paused = False
        self.apply_halt()
        return True, 'resumed'

    def _estop(self) -> tuple[bool, str]:
        self.estopped = True
        self.apply_halt()
        return True, 'e-stopped'

    def _release(self) -> tuple[bool, str]:
        if not self.estopped:
            # Like pause, resume and estop, a release taken twice (a double tap of "resume
            # all") is no refusal: the robot is where the operator wants it.
            return True, 'not e-stopped'
        self.estopped = False
        self.apply_halt()
        return True, 'e-stop released' + (' (still paused)' if self.paused else '')

    def close(self) -> None:
        if self._action is not None:
            self._action.destroy()
        self.ledger.close()


def run(node_factory: Callable[[], RobotNode], args: list[str] | None = None) -> int:
    """Spin one robot node on a SingleThreadedExecutor until SIGINT/SIGTERM."""
    rclpy.init(args=args)
    try:
        node = node_factory()
    except (RobotSetupError, ConfigError, DriverError, ParameterException) as e:
        # ParameterException: a parameter of the wrong type (`capacity:=2.0`); its message
        # names the parameter and both types.
        print(f'error: {e}', file=sys.stderr)
        rclpy.try_shutdown()
        return 2
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    node.get_logger().info(
        f'{node.KIND} robot {node.robot_id} up (driver {node.driver_name}, '
        f'time scale {node.time_scale:g})'
    )
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.close()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0
