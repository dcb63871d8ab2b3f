"""The seam between a robot node and whatever actually moves or cooks.

Both kinds of driver are *ticked*: the node's timer calls `tick(now_s)` on the executor thread,
so a driver never blocks and never needs its own thread. A driver reports state through plain
properties the node reads after each tick.

Serving robots (`MotionDriver`): the node hands over a polyline of floor points with
`set_path`; the driver follows it (`sim` integrates kinematics, `diffdrive` closes a loop over
`cmd_vel`/`odom`, `hardware` would talk to a vendor SDK) and reports `pose` and `done`.
`halt()` stops the robot where it is but keeps the path, `resume()` continues it.

Cooking robots (`CookingDriver`): the node asks for one stage of one job (`start`) with a
duration at real time; the driver reports per-job stage progress and may be halted/resumed as a
whole (pause / e-stop freeze every slot).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rclpy.node import Node

    from orchestrator.config import ServingRobot

Point = tuple[float, float]
# x, y in metres on the restaurant floor, theta in radians (counter-clockwise from +x).
Pose = tuple[float, float, float]


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

    def __init__(self, node: Node, robot: ServingRobot, time_scale: float, start: Pose) -> None:
        self.node = node
        self.robot = robot
        self.time_scale = time_scale
        self._pose: Pose = start
        self._path: list[Point] = []
        # Index into `_path` of the point the robot is heading to; len(_path) when arrived.
        self._next = 0

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

    def close(self) -> None:
        """Release node resources (publishers, subscriptions); the default holds none."""
        return None


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

    @abstractmethod
    def abort(self, job_id: str) -> None:
        """Stop working on `job_id` (cancelled); forget it."""
