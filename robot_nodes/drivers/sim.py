"""Headless simulation drivers: kinematics for serving robots, timers for cooking robots."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from robot_nodes.drivers.base import CookingDriver, MotionDriver, Point, Pose

if TYPE_CHECKING:
    from rclpy.node import Node

    from orchestrator.config import ServingRobot

# Closer than this (metres) counts as having reached a path point.
ARRIVE_EPS_M = 1e-3


class SimMotionDriver(MotionDriver):
    """Moves along the path at the robot's top speed with its acceleration limit.

    Integrates in simulated time (real seconds × time_scale); slows so that it stops exactly on
    the last point, and decelerates at the same limit when halted or when another robot's
    footprint is ahead (it stops `neighbours.GAP_M` short of it and goes on when it is clear).
    """

    def __init__(self, node: Node, robot: ServingRobot, time_scale: float, start: Pose) -> None:
        super().__init__(node, robot, time_scale, start)
        self._speed = 0.0
        self._last_s: float | None = None

    @property
    def speed(self) -> float:
        """Current speed in simulated m/s."""
        return self._speed

    def set_path(self, points: list[Point]) -> None:
        # A robot standing still sets off now, not at its last tick (the node ticks on
        # `time.monotonic()`): else a traffic grant that came between two ticks moves it over
        # time before it was given — 3 simulated s at 60x, long enough to meet the robot that
        # freed the junction — and the pose it shares now dates its start for the others.
        if self.done and self._last_s is not None:
            self._last_s = time.monotonic()
            self.share_pose()
        super().set_path(points)

    def tick(self, now_s: float) -> None:
        last, self._last_s = self._last_s, now_s
        if last is None or self.done:
            self._speed = 0.0 if self.done else self._speed
            self.share_pose()
            return
        dt = max(0.0, now_s - last) * self.time_scale
        accel = self.robot.max_accel_mps2
        # Another robot in the way is a point to stop at, like the end of the path.
        free = self.clearance_ahead(dt)
        if self._halted:
            target = 0.0
        else:
            # Fastest speed from which braking by accel·dt per step still stops on the last
            # point (the discrete form of v² = 2·a·d, which would overshoot by a step).
            stop_m = min(self.remaining_m(), free)
            brake = accel * (math.sqrt(dt * dt / 4 + 2 * stop_m / accel) - dt / 2)
            target = min(self.robot.speed_mps, brake)
        if target > self._speed:
            self._speed = min(target, self._speed + accel * dt)
        else:
            self._speed = max(target, self._speed - accel * dt)
        # Near the end the braking curve rounds to zero; creep so we always arrive.
        step = self._speed * dt if self._halted else max(self._speed * dt, 0.01 * dt)
        if step > free:
            # Never into another robot, however coarse the step.
            step = free
            self._speed = min(self._speed, free / dt) if free > ARRIVE_EPS_M else 0.0
        self._advance(step)
        self.share_pose()

    def _advance(self, step: float) -> None:
        x, y, theta = self._pose
        while step > 0 and not self.done:
            tx, ty = self._path[self._next]
            gap = math.hypot(tx - x, ty - y)
            if gap > ARRIVE_EPS_M:
                theta = math.atan2(ty - y, tx - x)
            if step >= gap:
                x, y, step = tx, ty, step - gap
                self._next += 1
            else:
                x += step * math.cos(theta)
                y += step * math.sin(theta)
                step = 0.0
        if self.done:
            self._speed = 0.0
        self._pose = (x, y, theta)


@dataclass
class _Stage:
    duration_s: float
    # Runs on past the duration until the next stage starts: that overrun is the next one's.
    elapsed_s: float = 0.0


class SimCookingDriver(CookingDriver):
    """Each stage is a stopwatch that only runs while the driver is not halted. A stage that
    ended between two ticks hands what it ran over to the job's next stage, so a dish takes its
    cook time, not a tick more per stage."""

    def __init__(self, node: Node, time_scale: float) -> None:
        super().__init__(node, time_scale)
        self._stages: dict[str, _Stage] = {}
        self._last_s: float | None = None

    def start(self, job_id: str, stage: str, duration_s: float, now_s: float) -> None:
        before = self._stages.get(job_id)
        over = max(0.0, before.elapsed_s - before.duration_s) if before else 0.0
        # Started after the last tick: the next tick's step counts only from now.
        late = now_s - self._last_s if self._last_s is not None else 0.0
        self._stages[job_id] = _Stage(max(duration_s, 0.0), over - max(late, 0.0))

    def tick(self, now_s: float) -> None:
        last, self._last_s = self._last_s, now_s
        if last is None or self._halted:
            return
        dt = max(0.0, now_s - last)
        for st in self._stages.values():
            st.elapsed_s += dt

    def progress(self, job_id: str) -> float:
        st = self._stages.get(job_id)
        if st is None:
            return 0.0
        return 1.0 if st.duration_s <= 0 else min(1.0, max(0.0, st.elapsed_s / st.duration_s))

    def ends_in(self, job_id: str, now_s: float) -> float:
        st = self._stages.get(job_id)
        if st is None or self._halted or self._last_s is None:
            return math.inf
        return self._last_s + st.duration_s - st.elapsed_s - now_s

    def abort(self, job_id: str) -> None:
        self._stages.pop(job_id, None)
