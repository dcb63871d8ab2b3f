"""The floor as the physical world sees it: diff-drive kinematics and footprint collisions.

Pure logic (no ROS), shared by the headless floor plant, the floor monitor (`SweptContacts`:
robot-to-robot contacts from the poses robots report), the Gazebo world writer (robots start
on their docks) and tests. Footprints are circles of the robot's `radius_m`; tables are
squares of `floor.table_size_m`; walls are segments.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from orchestrator.config import RestaurantConfig, ServingRobot
from orchestrator.traffic import to_segment

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
        return to_segment((px, py), ((self.x1, self.y1), (self.x2, self.y2)))


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


def _motion(body: Body) -> dict[str, float]:
    x, y, theta = body.pose
    return {'x': round(x, 3), 'y': round(y, 3), 'theta': round(theta, 3), 'v': round(body.v, 3)}


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
                robot = name.startswith('robot:')
                if robot and other < body.robot_id:
                    continue  # reported from the other robot's side
                hit = {'robot_id': body.robot_id, 'with': name, **_motion(body)}
                if robot:
                    # Both sides' motion: which one drove into the other.
                    hit['other'] = _motion(self.bodies[other])
                hit['sim_s'] = round(at_s, 3)
                new.append(hit)
            body.touching = now
        self.collisions.extend(new)
        return new

    def odometry(self, body: Body) -> Pose:
        """The body's pose in its odometry frame (origin = where it started)."""
        ox, oy, oth = body.origin
        dx, dy = body.pose[0] - ox, body.pose[1] - oy
        c, s = math.cos(-oth), math.sin(-oth)
        return (c * dx - s * dy, s * dx + c * dy, wrap(body.pose[2] - oth))


Point = tuple[float, float]


def first_contact(a0: Point, a1: Point, b0: Point, b1: Point, reach: float) -> float | None:
    """When two points moving in straight lines at constant speed over the same time, a from
    a0 to a1 and b from b0 to b1, first come closer than `reach`, as a fraction (0-1) of that
    time; None if they never do."""
    rx, ry = a0[0] - b0[0], a0[1] - b0[1]
    # Relative velocity over the interval.
    vx, vy = (a1[0] - a0[0]) - (b1[0] - b0[0]), (a1[1] - a0[1]) - (b1[1] - b0[1])
    # |r + f·v|² = reach²: v2·f² + 2·rv·f + c = 0.
    c = rx * rx + ry * ry - reach * reach
    if c < 0:
        return 0.0
    v2, rv = vx * vx + vy * vy, rx * vx + ry * vy
    if v2 < 1e-18 or rv >= 0:
        return None  # not closing in
    disc = rv * rv - v2 * c
    if disc <= 0:
        return None  # the closest they come is `reach` or more
    f = (-rv - math.sqrt(disc)) / v2
    return f if f <= 1 else None


@dataclass
class _Track:
    radius: float
    # (t, x, y), sorted by t.
    samples: list[tuple[float, float, float]] = field(default_factory=list)

    def at(self, t: float) -> Point:
        """Position at time t: linear between samples, held before the first and after the
        last (a robot that stops reporting is where it was last seen)."""
        i = bisect.bisect_left(self.samples, (t, -math.inf, -math.inf))
        if i == 0:
            return self.samples[0][1:]
        if i == len(self.samples):
            return self.samples[-1][1:]
        (t0, x0, y0), (t1, x1, y1) = self.samples[i - 1], self.samples[i]
        f = (t - t0) / (t1 - t0) if t1 > t0 else 1.0
        return (x0 + f * (x1 - x0), y0 + f * (y1 - y0))


class SweptContacts:
    """Robot-to-robot contacts from timed position reports, for drivers that model no physics
    (`sim`). Between two reports a robot moves in a straight line at constant speed, so a
    contact between two reports — metres apart at high time scales — is still seen: each pair
    is checked for the moment their simultaneous motions first bring them into contact, which
    is where it is reported however the checks split the time. A pair counts once per contact
    (until the footprints are apart again)."""

    def __init__(self) -> None:
        self.tracks: dict[str, _Track] = {}
        self.checked_t: float | None = None
        self._touching: set[tuple[str, str]] = set()

    def add(
        self,
        robot_id: str,
        t: float,
        x: float,
        y: float,
        radius: float,
        via: Iterable[Point] = (),
    ) -> None:
        """A report: at time t the robot was at (x, y), having gone round the corners `via`
        since its previous report (timed by distance along the way, at constant speed)."""
        track = self.tracks.setdefault(robot_id, _Track(radius))
        track.radius = radius
        i = bisect.bisect_left(track.samples, (t, -math.inf, -math.inf))
        corners = list(via)
        if i > 0 and corners:
            t0, *start = track.samples[i - 1]
            way = [tuple(start), *corners, (x, y)]
            legs = [math.dist(a, b) for a, b in itertools.pairwise(way)]
            total, walked = sum(legs), 0.0
            for corner, leg in zip(corners, legs, strict=False):
                walked += leg
                share = walked / total if total > 0 else 1.0
                bisect.insort(track.samples, (t0 + (t - t0) * share, *corner))
        bisect.insort(track.samples, (t, x, y))

    def reported_until(self, robot_ids: Iterable[str]) -> list[float]:
        """The time of each of these robots' latest report."""
        return [self.tracks[r].samples[-1][0] for r in robot_ids if r in self.tracks]

    def check(self, until: float) -> list[dict]:
        """Contacts that began after the last check up to time `until`: `robot_id` (the
        smaller id), `with` (`robot:<id>`), `x`, `y` (the first robot's position when they
        first touched), `t` (then)."""
        start = self.checked_t
        if start is None:
            start = min((tr.samples[0][0] for tr in self.tracks.values()), default=until)
        if until <= start:
            return []
        new = []
        for (ida, a), (idb, b) in itertools.combinations(sorted(self.tracks.items()), 2):
            reach = a.radius + b.radius - CONTACT_EPS_M
            begin = max(start, a.samples[0][0], b.samples[0][0])
            if begin >= until:
                continue
            times = sorted(
                {begin, until}
                | {s[0] for s in itertools.chain(a.samples, b.samples) if begin < s[0] < until}
            )
            hit = None
            for t0, t1 in itertools.pairwise(times):
                pa0, pa1 = a.at(t0), a.at(t1)
                f = first_contact(pa0, pa1, b.at(t0), b.at(t1), reach)
                if f is not None:
                    x = pa0[0] + f * (pa1[0] - pa0[0])
                    y = pa0[1] + f * (pa1[1] - pa0[1])
                    hit = (t0 + f * (t1 - t0), x, y)
                    break
            pair = (ida, idb)
            if hit is not None and pair not in self._touching:
                t, x, y = hit
                new.append({'robot_id': ida, 'with': f'robot:{idb}', 'x': x, 'y': y, 't': t})
            end_a, end_b = a.at(until), b.at(until)
            if math.dist(end_a, end_b) < reach:
                self._touching.add(pair)
            else:
                self._touching.discard(pair)
        self.checked_t = until
        for track in self.tracks.values():
            # Keep what `until` and later need: the last sample before it and all after.
            i = bisect.bisect_left(track.samples, (until, -math.inf, -math.inf))
            del track.samples[: max(i - 1, 0)]
        return new
