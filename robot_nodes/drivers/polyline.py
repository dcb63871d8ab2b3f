"""Geometry of a driver's path, a polyline of floor points: where it turns, and how far along
it a robot at a given spot has come. Shared by the drivers that go corner to corner
(`diffdrive` turns in place at each corner; `nav2` sends one goal per corner)."""

from __future__ import annotations

import math

from robot_nodes.drivers.base import Point
from robot_nodes.floor_world import wrap

# A turn of the path sharper than this (rad) is a corner: the robot stops and turns there.
CORNER_RAD = 0.5


def turn_at(path: list[Point], i: int) -> float:
    """Heading change (rad) the path makes at point i (0 at either end)."""
    if i == 0 or i + 1 >= len(path):
        return 0.0
    (px, py), (ax, ay), (bx, by) = path[i - 1 : i + 2]
    return wrap(math.atan2(by - ay, bx - ax) - math.atan2(ay - py, ax - px))


def corner_after(path: list[Point], i: int) -> int:
    """The first point from i on where the path turns in place, or its last point. The first
    point is reached from wherever the robot is, so it counts as a corner."""
    while 0 < i < len(path) - 1 and abs(turn_at(path, i)) <= CORNER_RAD:
        i += 1
    return i


def passed(path: list[Point], i: int, at: Point) -> bool:
    """True if `at` is beyond point i, seen along the segment that leads to it."""
    if i == 0:
        return False
    (ax, ay), (bx, by) = path[i - 1], path[i]
    return (at[0] - bx) * (bx - ax) + (at[1] - by) * (by - ay) > 0


def skip_passed(path: list[Point], i: int, at: Point, tolerance_m: float) -> int:
    """The index from i on of the point a robot at `at` heads for: past the intermediate points
    it reached (within `tolerance_m`) or, where the path goes on straight, drove past. Past a
    corner (a late tick overshot it) it goes back to the corner rather than cut across towards
    the next point: the aisle is the safe place to be."""
    while i < len(path) - 1:
        near = math.dist(path[i], at) <= tolerance_m
        if not near and not (abs(turn_at(path, i)) <= CORNER_RAD and passed(path, i, at)):
            return i
        i += 1
    return i
