"""Closed aisles and waypoints — the operator's re-route (README "Traffic in the aisles"), as
pure functions over the floor graph.

A high chair, a spill or a queue of people blocks an aisle or a junction: the operator closes it
on the console's floor map and the fleet drives round it until it is reopened. A closure is
named `a~b` (an aisle, both directions: its two waypoints sorted) or by its waypoint id (no
robot drives onto it; one standing on it may leave). The console writes them
(`store.closures`), the dispatcher sends them signed to the traffic controller, which grants no
robot a closed aisle or waypoint and sends robots round them (`traffic.Controller`); the
dispatcher keeps the orders of a table no way reaches at the pass (`unreachable_tables`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orchestrator.config import Floor, RestaurantConfig

# Closures the console takes and the traffic controller accepts: a floor has a few aisles that
# people block at once, and every message carrying them is bounded.
MAX_CLOSURES = 64
AISLE_SEP = '~'
# Where the dispatcher sends them to the traffic controller (restaurant_interfaces/msg/Closures).
TOPIC = '/robodine/traffic/closures'


class ClosureError(ValueError):
    """A closure that does not name a waypoint or aisle of the floor; `what` is the text's key
    (`refusals.*`) and `values` its values."""

    def __init__(self, what: str, **values: str) -> None:
        super().__init__(f'{what}: {values}')
        self.what = what
        # Any: the values of a text (`texts.Refused` takes them as keywords).
        self.values: dict[str, Any] = values


def aisle_name(a: str, b: str) -> str:
    return AISLE_SEP.join(sorted((a, b)))


def closure_name(floor: Floor, a: str, b: str | None = None) -> str:
    """The closure of waypoint `a`, or of the aisle between `a` and `b`; ClosureError for a
    waypoint the floor does not have or two waypoints no drivable aisle joins."""
    for node in (a, b):
        if node is not None and node not in floor.points:
            raise ClosureError('no_waypoint', waypoint=node)
    if b is None:
        return a
    if b not in {n for n, _ in floor.neighbours(a)}:
        raise ClosureError('no_aisle', a=a, b=b)
    return aisle_name(a, b)


@dataclass(frozen=True)
class Closures:
    aisles: frozenset[frozenset[str]] = frozenset()
    waypoints: frozenset[str] = frozenset()

    @classmethod
    def of(cls, floor: Floor, names: Iterable[str]) -> Closures:
        """From closure names, each checked against `floor` (ClosureError)."""
        aisles, waypoints = set(), set()
        for name in names:
            ends = name.split(AISLE_SEP)
            if len(ends) == 2:
                closure_name(floor, *ends)
                aisles.add(frozenset(ends))
            elif len(ends) == 1:
                closure_name(floor, name)
                waypoints.add(name)
            else:
                raise ClosureError('no_waypoint', waypoint=name)
        return cls(frozenset(aisles), frozenset(waypoints))

    @classmethod
    def known(cls, floor: Floor, names: Iterable[str]) -> tuple[Closures, list[str]]:
        """The closures among `names` that are on `floor`, and the names that are not (kept
        under another floor plan): one stale name must not lift the others."""
        good, stale = [], []
        for name in names:
            try:
                cls.of(floor, [name])
            except ClosureError:
                stale.append(name)
            else:
                good.append(name)
        return cls.of(floor, good), stale

    @property
    def names(self) -> list[str]:
        return sorted([aisle_name(*sorted(e)) for e in self.aisles] + list(self.waypoints))

    def without(self, name: str) -> Closures:
        return Closures(self.aisles - {frozenset(name.split(AISLE_SEP))}, self.waypoints - {name})

    def __bool__(self) -> bool:
        return bool(self.aisles or self.waypoints)

    def blocks(self, a: str, b: str) -> str:
        """The closure that keeps a robot from driving from `a` to `b` ('' for none)."""
        if frozenset((a, b)) in self.aisles:
            return aisle_name(a, b)
        return b if b in self.waypoints else ''

    def on_route(self, route: Sequence[str], start: int = 0, end: int | None = None) -> str:
        """The first closure on `route` beyond its index `start` (up to index `end`), or ''."""
        stop = len(route) - 1 if end is None else end
        for a, b in itertools.pairwise(route[start : stop + 1]):
            if found := self.blocks(a, b):
                return found
        return ''


NO_CLOSURES = Closures()


def route_avoiding(floor: Floor, start: str, goal: str, closures: Closures) -> list[str] | None:
    """The shortest drivable route from `start` to `goal` that no closure blocks, or None."""
    try:
        return floor.path_over(start, goal, lambda a, b: not closures.blocks(a, b))
    except ValueError:
        return None


def refusal(cfg: RestaurantConfig, closures: Closures) -> ClosureError | None:
    """Why the fleet cannot work with `closures` (None: it can): the pass closed, or a dock
    no way joins to the pass (the robots load there and go home from there)."""
    floor = cfg.floor
    if floor.pass_point.id in closures.waypoints:
        return ClosureError('closure_pass', waypoint=floor.pass_point.id)
    for robot in cfg.serving_robots:
        if route_avoiding(floor, floor.pass_point.id, robot.dock, closures) is None:
            return ClosureError('closure_cuts_dock', dock=robot.dock, robot=robot.id)
    return None


def unreachable_tables(cfg: RestaurantConfig, closures: Closures) -> dict[str, str]:
    """Table -> the closure that cuts it off, for every table no open way from the pass
    reaches: the first whose reopening alone opens a way, else the first on its shortest way."""
    if not closures:
        return {}
    floor = cfg.floor
    start = floor.pass_point.id
    out = {}
    for table in cfg.tables:
        if route_avoiding(floor, start, table.waypoint, closures) is None:
            out[table.id] = next(
                (
                    name
                    for name in closures.names
                    if route_avoiding(floor, start, table.waypoint, closures.without(name))
                ),
                closures.on_route(floor.path(start, table.waypoint)),
            )
    return out


def must_replan(
    routes: Mapping[str, tuple[Sequence[str], int]], closures: Closures
) -> dict[str, str]:
    """Robot -> the closure ahead of it, for every robot whose route (with the index it is
    granted to: it drives on that far) crosses a closure further on."""
    out = {}
    for robot_id, (route, granted) in routes.items():
        if found := closures.on_route(route, granted):
            out[robot_id] = found
    return out
