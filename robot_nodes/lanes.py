"""Lanes: the polyline a serving robot drives along a route of floor waypoints.

An aisle wide enough for two footprints side by side (`orchestrator.traffic.two_lanes`) has
two lanes, and a robot keeps to the right-hand one: its line is offset a quarter of the aisle's
width to the right of the direction of travel, so two robots meeting head-on pass half the
width apart. Narrower aisles, and those leading to a dock or charger (one robot's own), are
driven on their centre line (`orchestrator.traffic.lane_offset`, shared with the traffic
controller). At a waypoint between two aisles the two lane lines meet at their intersection;
where they do not meet nearby (straight on with a lane change, or a sharp turn) the robot
drives from the end of one to the start of the next. It joins its first lane and leaves its
last one at 45°, and the route ends on the waypoint itself (table stop, dock, pass, charger).
"""

from __future__ import annotations

import itertools
import math

from orchestrator.config import Floor, RestaurantConfig
from orchestrator.traffic import OWN_PLACES, lane_offset, to_segment

Point = tuple[float, float]
# Lane lines whose intersection lies further from the waypoint than this many lane offsets
# are joined end to start instead (a sharp turn would send the corner far out).
MAX_CORNER_OFFSETS = 2.0
# Routes whose lengths differ by less than this (m) are as short as each other.
SAME_M = 1e-6


def start_waypoint(floor: Floor, at: Point, target: str) -> str:
    """The waypoint a route from `at` to `target` starts from: the end of the aisle the robot
    is on (the nearest drivable one; at a waypoint, any of its aisles) that makes the way
    shorter, the nearer one of two as short. Not simply the nearest waypoint: on a corridor
    beside a row of docks that may be a dock, and the robot would turn down that dock's aisle
    and back (past the other docks, and the robots standing on them)."""

    def xy(w: str) -> Point:
        return floor.points[w].x, floor.points[w].y

    aisles = [
        (to_segment(at, (xy(a.a), xy(a.b))), a.a, a.b)
        for a in floor.aisles
        if a.width_m >= floor.min_aisle_m
    ]
    nearest = min(d for d, _, _ in aisles)
    ends = {w for d, a, b in aisles if d <= nearest + SAME_M for w in (a, b)}

    def away(w: str) -> float:
        return math.dist(at, xy(w))

    ways = [(away(w) + _length_to(floor, w, target), w) for w in ends]
    shortest = min(length for length, _ in ways)
    return min((w for length, w in ways if length <= shortest + SAME_M), key=away)


def _length_to(floor: Floor, start: str, target: str) -> float:
    try:
        return floor.length(start, target)
    except ValueError:  # no drivable way from this end
        return math.inf


def lane_path(
    cfg: RestaurantConfig, route: list[str], radius_m: float, start: Point
) -> list[Point]:
    """Points to drive from `start` (where the robot is) along `route` (waypoint ids, the
    first normally the one the robot is at or nearest to), ending on the last waypoint."""
    nodes = [(cfg.floor.points[w].x, cfg.floor.points[w].y) for w in route]
    if len(nodes) < 2:
        return [start, *nodes]
    waypoints = cfg.floor.points
    lanes = [
        _Lane(
            pa,
            pb,
            lane_offset(cfg.floor, a, b, radius_m),
            bool({waypoints[a].kind, waypoints[b].kind} & set(OWN_PLACES)),
        )
        for (a, b), (pa, pb) in zip(
            itertools.pairwise(route), itertools.pairwise(nodes), strict=True
        )
    ]
    first, last = lanes[0], lanes[-1]
    leave = last.length - min(last.offset, last.length / 2)
    # Join the first lane where the robot is along it (it may be part-way already).
    along = min(
        max(first.along(start), min(first.offset, first.length / 2)),
        leave if first is last else first.length,
    )
    points = [start, first.at(along)]
    for before, after in itertools.pairwise(lanes):
        points += _corner(before, after)
    points += [last.at(leave), nodes[-1]]
    return _without_repeats(points)


class _Lane:
    """The line a robot drives from `a` to `b`: `offset` metres right of the centre line."""

    def __init__(self, a: Point, b: Point, offset: float, own: bool = False) -> None:
        # `own`: the aisle to a dock or charger.
        self.a, self.b, self.offset, self.own = a, b, offset, own
        self.length = math.hypot(b[0] - a[0], b[1] - a[1])
        self.ux, self.uy = (
            ((b[0] - a[0]) / self.length, (b[1] - a[1]) / self.length)
            if self.length > 0
            else (1.0, 0.0)
        )
        # Right of the direction of travel.
        self.nx, self.ny = self.uy, -self.ux

    def at(self, along: float) -> Point:
        return (
            self.a[0] + self.ux * along + self.nx * self.offset,
            self.a[1] + self.uy * along + self.ny * self.offset,
        )

    def along(self, p: Point) -> float:
        return (p[0] - self.a[0]) * self.ux + (p[1] - self.a[1]) * self.uy


def _corner(before: _Lane, after: _Lane) -> list[Point]:
    """Where the lane of `before` turns into that of `after` at their shared waypoint."""
    end, start = before.at(before.length), after.at(0.0)
    cross = before.ux * after.uy - before.uy * after.ux
    if abs(cross) < 1e-9:
        # Straight on (or straight back): one point if the lanes line up.
        return [end] if math.dist(end, start) < 1e-9 else [end, start]
    # end + s·u_before = start + t·u_after, solved for s.
    dx, dy = start[0] - end[0], start[1] - end[1]
    s = (dx * after.uy - dy * after.ux) / cross
    corner = (end[0] + s * before.ux, end[1] + s * before.uy)
    # Out of or into a dock's or charger's aisle the lines meet beyond the junction, towards
    # the neighbouring docks and chargers: the robot goes by the waypoint itself instead.
    reach = (
        0.0 if before.own or after.own else MAX_CORNER_OFFSETS * max(before.offset, after.offset)
    )
    if math.dist(corner, after.a) <= reach + 1e-9:
        return [corner]
    return [end, start]


def _without_repeats(points: list[Point]) -> list[Point]:
    out = points[:1]
    for p in points[1:]:
        if math.dist(p, out[-1]) > 1e-9:
            out.append(p)
    return out
