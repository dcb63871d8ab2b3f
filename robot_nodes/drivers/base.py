"""The seam between a robot node and whatever actually moves or cooks.

Both kinds of driver are *ticked*: the node's timer calls `tick(now_s)` on the executor thread,
so a driver never blocks and never needs its own thread. A driver reports state through plain
properties the node reads after each tick.

Serving robots (`MotionDriver`): the node hands over a polyline of floor points with
`set_path`; the driver follows it (`sim` integrates kinematics, `diffdrive` closes a loop over
`cmd_vel`/`odom`, `hardware` would talk to a vendor SDK) and reports `pose` and `done`.
`halt()` stops the robot where it is but keeps the path, `resume()` continues it.
Every motion driver shares its pose with the other serving robots (the node names them:
`set_peers`) and, like a real robot's obstacle stop, does not drive into one of theirs
(`clearance_ahead`, `share_pose`: `drivers.neighbours`); a subclass calls both from `tick`.

Cooking robots (`CookingDriver`): the node asks for one stage of one job (`start`) with a
duration at real time; the driver reports per-job stage progress and may be halted/resumed as a
whole (pause / e-stop freeze every slot).
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import TYPE_CHECKING, TypeVar, cast

from rcl_interfaces.msg import ParameterDescriptor

from robot_nodes.drivers.neighbours import Obstacle, PoseBoard, PoseReport, clearance

if TYPE_CHECKING:
    from rclpy.node import Node

    from orchestrator.config import ServingRobot

Point = tuple[float, float]
# x, y in metres on the restaurant floor, theta in radians (counter-clockwise from +x).
Pose = tuple[float, float, float]
# Stopped this close (m) to the point where another robot is in the way counts as blocked.
BLOCKED_M = 0.05
# Simulated seconds robots stopped for each other in a ring (each waits for the next, the last
# for the first: a head-on meeting in a one-lane aisle, say) wait before the one with the
# smallest id drives on through the next, as if it were not there. Physically they would wait
# forever; the floor monitor counts the overlap as a collision, so a jam stays visible.
JAM_S = 30.0
# A driver's own parameter: a number or a string.
ParamT = TypeVar('ParamT', float, str)


class DriverError(RuntimeError):
    """A driver that cannot be created or has failed; the message says why."""


class Haltable:
    """Pause / e-stop for a driver: `halt()` stops the work where it is (a moving robot stops
    as soon as possible, stages in progress freeze) and keeps it; `resume()` carries on."""

    _halted = False

    @property
    def halted(self) -> bool:
        return self._halted

    def halt(self) -> None:
        self._halted = True

    def resume(self) -> None:
        self._halted = False


class MotionDriver(Haltable, ABC):
    """Follows a path of floor points. Subclasses move `_pose` and advance `_next`.

    Constructed with the node (to create publishers/subscriptions/timers if the driver needs
    them), the robot's config (speed, acceleration, radius), the time scale (simulated seconds
    per real second) and the pose the robot starts in (its dock).
    """

    # Prefix of the driver's own ROS parameters (`diffdrive` → `diffdrive.stop_tolerance_m`).
    PARAMS = ''

    def __init__(self, node: Node, robot: ServingRobot, time_scale: float, start: Pose) -> None:
        self.node = node
        self.robot = robot
        self.time_scale = time_scale
        self._pose: Pose = start
        self._path: list[Point] = []
        # Index into `_path` of the point the robot is heading to; len(_path) when arrived.
        self._next = 0
        # Only a node shares poses; a bare driver (unit tests) is alone unless `others` is set.
        self._board = PoseBoard(node, robot.id) if node is not None else None
        self.others: dict[str, PoseReport] = self._board.others if self._board else {}
        # The robot it is stopped for ('' when none), for how long (simulated s), and those it
        # drives through to break jams (several at once when it meets a queue of them: passing
        # only the latest would stop it again inside the one before, for good).
        self.blocked_by = ''
        self._blocked_s = 0.0
        self._passing: set[str] = set()
        # The robot the traffic controller has this one wait for ('' when none; set by the
        # node): shared, so that a ring across both layers is seen as a jam.
        self.waiting_for = ''
        # How far (m) short of the point where another robot is in the way it stops.
        self.stop_short_m = 0.0
        # Metres it could drive on before another robot is in the way, as of the last tick.
        self.clear_m = math.inf
        # The path and index into it as of the last pose shared: the corners passed since.
        self._shared_at: tuple[list[Point], int] = (self._path, 0)

    def _param(self, name: str, default: ParamT) -> ParamT:
        """The driver's parameter `<PARAMS>.<name>`, declared on first use: a number of either
        type (`diffdrive.max_angular_speed:=2`, as `time_scale`) where `default` is a float."""
        full = f'{self.PARAMS}.{name}'
        numeric = isinstance(default, float)
        if not self.node.has_parameter(full):
            descriptor = ParameterDescriptor(dynamic_typing=numeric)
            self.node.declare_parameter(full, default, descriptor)
        value = self.node.get_parameter(full).value
        if not numeric:
            return cast(ParamT, value)  # declared a string: ROS refuses any other type
        try:
            return cast(ParamT, float(value))
        except (TypeError, ValueError):
            raise DriverError(f'parameter {full} must be a number, got {value!r}') from None

    @property
    def fault(self) -> str:
        """Why the robot cannot drive on by itself ('' when it can): the node reports it (mode
        fault, with this as the detail) until the driver clears it."""
        return ''

    def set_peers(self, robot_ids: Iterable[str]) -> None:
        """Keep the poses of these robots only (the restaurant's other serving robots); until
        told, it keeps every robot's."""
        if self._board is not None:
            self._board.peers = frozenset(robot_ids)

    def set_path(self, points: list[Point]) -> None:
        """Follow `points` (the first is normally where the robot already is); a halted
        driver stays halted until `resume()`."""
        self._path = list(points)
        self._next = 0

    @abstractmethod
    def tick(self, now_s: float) -> None:
        """Advance to monotonic time `now_s` (seconds); called at >= 10 Hz by the node."""

    @property
    def pose(self) -> Pose:
        return self._pose

    @property
    def done(self) -> bool:
        """True once the last point of the path is reached (and the robot has stopped)."""
        return self._next >= len(self._path)

    def remaining_m(self) -> float:
        """Distance left along the path from the current pose, metres."""
        if self.done:
            return 0.0
        x, y, _ = self._pose
        total = math.hypot(self._path[self._next][0] - x, self._path[self._next][1] - y)
        for a, b in zip(self._path[self._next :], self._path[self._next + 1 :], strict=False):
            total += math.hypot(b[0] - a[0], b[1] - a[1])
        return total

    @property
    def speed(self) -> float:
        """Current speed along the heading, simulated m/s."""
        return 0.0

    def clearance_ahead(self, dt_s: float, horizon_s: float | None = None) -> float:
        """Metres the robot may still drive along its path before another robot is in the way
        (inf when none is), for a control step of `dt_s` simulated seconds whose command may
        last `horizon_s` (default `dt_s`). Each other robot
        counts where it last said it was — a robot driving away is further on by now, so one
        following it never closes in on it — and, if moving, where it is now had it kept on
        straight (one crossing ahead); one coming towards this robot counts as nearer by what
        it covered since and covers in the step, and its braking distance. Tracks
        `blocked_by` and breaks jams."""
        if self.done or not self.others:
            self._set_blocked('', dt_s)
            self.clear_m = math.inf
            return math.inf
        x, y, _ = self._pose
        now = time.time_ns()
        obstacles = []
        for other in self.others.values():
            age = other.age_s(now, self.time_scale)
            v = other.v if age is not None else 0.0
            age = age or 0.0
            # Its speed towards this robot (positive when closing in).
            gap = math.hypot(x - other.x, y - other.y)
            toward = (
                v
                * ((x - other.x) * math.cos(other.theta) + (y - other.y) * math.sin(other.theta))
                / gap
                if gap > 1e-9
                else 0.0
            )
            closing = max(toward, 0.0)
            step_s = dt_s if horizon_s is None else horizon_s
            brake = closing * step_s + closing * closing / (2 * self.robot.max_accel_mps2)
            r, rid = other.radius, other.robot_id
            obstacles.append(Obstacle(rid, other.x, other.y, r, brake + closing * age))
            if v > 0 and age > 0:
                obstacles.append(Obstacle(rid, *other.ahead(age), r, brake))
        path = [(x, y), *self._path[self._next :]]
        blocked_m = self.stop_short_m + BLOCKED_M
        # One being passed is forgotten once it is no longer in the way right here (left
        # behind, or gone on ahead: then it is followed like any other).
        self._passing = {
            rid
            for rid in self._passing
            if clearance(path, self.robot.radius_m, (o for o in obstacles if o.robot_id == rid))[0]
            <= blocked_m
        }
        rest = [o for o in obstacles if o.robot_id not in self._passing]
        free, who = clearance(path, self.robot.radius_m, rest)
        self._set_blocked(who if free <= blocked_m else '', dt_s)
        self.clear_m = free
        return free

    def runs_free(self) -> bool:
        """Moving, with no other robot in the way before the end of its path (as of the last
        tick)."""
        return self.speed > 0.0 and self.clear_m >= self.remaining_m()

    def _set_blocked(self, who: str, dt_s: float) -> None:
        self._blocked_s = self._blocked_s + dt_s if who and who == self.blocked_by else 0.0
        self.blocked_by = who
        if who and self._blocked_s >= JAM_S and self._leads_jam():
            if self.node is not None:
                self.node.get_logger().warning(
                    f'jammed for {self._blocked_s:.0f} s (robots stopped for each other); '
                    f'driving through {who}'
                )
            self._passing.add(who)
            self.blocked_by, self._blocked_s = '', 0.0

    def _leads_jam(self) -> bool:
        """This robot is in a ring of robots each stopped for the next — by its obstacle
        stop, or by the traffic controller until the next one frees its way — and has the
        smallest id of those in it stopped by their obstacle stop (one waiting for a grant may
        not drive on)."""
        ring, stopped = [self.robot.id], [self.robot.id]
        nxt = self.blocked_by
        while nxt and nxt not in ring and nxt in self.others:
            ring.append(nxt)
            other = self.others[nxt]
            if other.blocked_by:
                stopped.append(nxt)
            nxt = other.blocked_by or other.waiting_for
        return nxt == self.robot.id and min(stopped) == self.robot.id

    def share_pose(self) -> None:
        """Tell the other robots where this one is (after each tick)."""
        if self._board is not None:
            path, passed = self._shared_at
            via = self._path[passed if path is self._path else 0 : self._next]
            self._shared_at = (self._path, self._next)
            x, y, theta = self._pose
            self._board.share(
                PoseReport(
                    self.robot.id,
                    x,
                    y,
                    theta,
                    self.speed,
                    self.robot.radius_m,
                    self.blocked_by,
                    time.time_ns(),
                    tuple(via),
                    self.waiting_for,
                )
            )

    def close(self) -> None:
        """Release node resources (publishers, subscriptions)."""
        if self._board is not None:
            self._board.close()


class CookingDriver(Haltable, ABC):
    """Runs one stage (prep, cook, plate) of a job per call to `start`, concurrently per job."""

    def __init__(self, node: Node, time_scale: float) -> None:
        self.node = node
        self.time_scale = time_scale

    @abstractmethod
    def start(self, job_id: str, stage: str, duration_s: float, now_s: float) -> None:
        """Begin `stage` of `job_id`, lasting `duration_s` real seconds of un-halted time."""

    @abstractmethod
    def tick(self, now_s: float) -> None:
        """Advance to monotonic time `now_s`."""

    @abstractmethod
    def progress(self, job_id: str) -> float:
        """Fraction 0.0 - 1.0 of the job's current stage that is done (1.0 when finished)."""

    def ends_in(self, job_id: str, now_s: float) -> float:
        """Real seconds from monotonic `now_s` until the job's current stage is done, where
        the driver can tell (inf where not): the node looks then rather than at its next tick."""
        return math.inf

    @abstractmethod
    def abort(self, job_id: str) -> None:
        """Stop working on `job_id` (cancelled); forget it."""
