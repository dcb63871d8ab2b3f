"""The floor as the physical world sees it: diff-drive kinematics and footprint collisions.

Pure logic (no ROS), shared by the headless floor plant, the Gazebo world writer (robots start
on their docks in both) and tests. Footprints are circles of the robot's `radius_m`; tables are
squares of `floor.table_size_m`; walls are segments.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from orchestrator.config import RestaurantConfig, ServingRobot

# Integration sub-steps never move a robot further than this (metres / radians), so a contact
# is seen even when one wall tick covers a second of simulated time.
MAX_STEP_M = 0.05
MAX_STEP_RAD = 0.1
# Overlap (metres) below which touching is not a collision: a robot parked exactly at a
# table's stop may graze the tabletop by float noise.
CONTACT_EPS_M = 1e-3

Pose = tuple[float, float, float]


def dock_pose(cfg: RestaurantConfig, robot: ServingRobot) -> Pose:
    """Where a serving robot starts the shift: on its dock, facing +x (the floor frame)."""
    dock = cfg.floor.points[robot.dock]
    return (dock.x, dock.y, 0.0)


def wrap(angle: float) -> float:
    """Angle folded into [-pi, pi)."""
    return (angle + math.pi) % (2 * math.pi) - math.pi


def integrate(pose: Pose, v: float, w: float, dt: float) -> Pose:
    """Exact unicycle motion over `dt` at constant linear `v` and angular `w`."""
    x, y, th = pose
    if abs(w) < 1e-9:
        return (x + v * dt * math.cos(th), y + v * dt * math.sin(th), th)
    r = v / w
    th2 = th + w * dt
    return (
        x + r * (math.sin(th2) - math.sin(th)),
        y - r * (math.cos(th2) - math.cos(th)),
        wrap(th2),
    )


def _segment_distance(px: float, py: float, ax: float, ay: float, bx: float, by: float) -> float:
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length2))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


@dataclass(frozen=True)
class Box:
    """An axis-aligned obstacle (a table top)."""

    name: str
    x: float
    y: float
    half: float

    def distance(self, px: float, py: float) -> float:
        dx = max(abs(px - self.x) - self.half, 0.0)
        dy = max(abs(py - self.y) - self.half, 0.0)
        return math.hypot(dx, dy)


@dataclass(frozen=True)
class Segment:
    name: str
    x1: float
    y1: float
    x2: float
    y2: float

    def distance(self, px: float, py: float) -> float:
        return _segment_distance(px, py, self.x1, self.y1, self.x2, self.y2)


@dataclass
class Body:
    """One robot's physical state in the plant."""

    robot_id: str
    radius: float
    origin: Pose
    pose: Pose
    v: float = 0.0
    w: float = 0.0
    # Wall time (monotonic s) of the last command; None = never commanded.
    commanded_at: float | None = None
    odometer_m: float = 0.0
    # Names of everything this robot touches now (a contact is counted when it begins).
    touching: set[str] = field(default_factory=set)


class FloorWorld:
    """The floor's obstacles and robots; pure logic, no ROS."""

    def __init__(self, cfg: RestaurantConfig, robot_ids: Iterable[str] | None = None) -> None:
        half = cfg.floor.table_size_m / 2
        self.boxes = [Box(f'table:{t.id}', t.x, t.y, half) for t in cfg.tables]
        self.walls = [
            Segment(f'wall:{i}', w.x1, w.y1, w.x2, w.y2) for i, w in enumerate(cfg.floor.walls)
        ]
        self.obstacles: list[Box | Segment] = [*self.boxes, *self.walls]
        wanted = set(robot_ids) if robot_ids is not None else None
        self.bodies = {
            r.id: Body(r.id, r.radius_m, dock_pose(cfg, r), dock_pose(cfg, r))
            for r in cfg.serving_robots
            if wanted is None or r.id in wanted
        }
        self.collisions: list[dict] = []

    def step(self, dt: float, at_s: float) -> list[dict]:
        """Advance every body by `dt` simulated seconds; return the contacts that began."""
        n = max(
            [1]
            + [
                math.ceil(max(abs(b.v) * dt / MAX_STEP_M, abs(b.w) * dt / MAX_STEP_RAD))
                for b in self.bodies.values()
            ]
        )
        new: list[dict] = []
        for i in range(1, n + 1):
            for body in self.bodies.values():
                body.pose = integrate(body.pose, body.v, body.w, dt / n)
                body.odometer_m += abs(body.v) * dt / n
            new += self.detect(at_s - dt + dt * i / n)
        return new

    def contacts(self, body: Body) -> set[str]:
        x, y, _ = body.pose
        found = {o.name for o in self.obstacles if o.distance(x, y) < body.radius - CONTACT_EPS_M}
        for other in self.bodies.values():
            if other is not body:
                gap = math.hypot(other.pose[0] - x, other.pose[1] - y)
                if gap < body.radius + other.radius - CONTACT_EPS_M:
                    found.add(f'robot:{other.robot_id}')
        return found

    def detect(self, at_s: float) -> list[dict]:
        """Record contacts that began since the last check (a robot pair counts once)."""
        new: list[dict] = []
        for body in self.bodies.values():
            now = self.contacts(body)
            for name in sorted(now - body.touching):
                other = name.removeprefix('robot:')
                if name.startswith('robot:') and other < body.robot_id:
                    continue  # reported from the other robot's side
                new.append(
                    {
                        'robot_id': body.robot_id,
                        'with': name,
                        'x': round(body.pose[0], 3),
                        'y': round(body.pose[1], 3),
                        'sim_s': round(at_s, 3),
                    }
                )
            body.touching = now
        self.collisions.extend(new)
        return new

    def odometry(self, body: Body) -> Pose:
        """The body's pose in its odometry frame (origin = where it started)."""
        ox, oy, oth = body.origin
        dx, dy = body.pose[0] - ox, body.pose[1] - oy
        c, s = math.cos(-oth), math.sin(-oth)
        return (c * dx - s * dy, s * dx + c * dy, wrap(body.pose[2] - oth))
