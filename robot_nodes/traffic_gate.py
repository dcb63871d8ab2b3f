"""A serving robot's side of traffic control (README "Traffic in the aisles"): the route of its
current leg, how far along it is, and how far its driver may take it now.

The driver's path never goes past the grant: it ends on the granted waypoint or, when the grant
ends short of the leg's end, on the aisle after it, short of the next waypoint (`clear_of`), where
the robot waits for the next grant without blocking the junction. Pure logic; the node asks
the traffic controller with `ask()` and hands the answer to `grant()`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from orchestrator.closures import NO_CLOSURES
from orchestrator.traffic import Ask, TrafficMap

Point = tuple[float, float]
# The polyline a driver follows through waypoints `nodes` from `start` (robot_nodes.lanes).
PointsOf = Callable[[list[str], Point], list[Point]]
# Offset (m) of the lane a robot keeps to on the aisle between two waypoints.
LaneOffset = Callable[[str, str], float]
# A robot this close to a waypoint has reached it: lanes and their corners keep it within
# two lane offsets (0.75 m on a 1.5 m aisle) of the waypoint itself.
REACH_M = 0.8
# The leg ends on its waypoint (a driver's stop tolerance is 0.1 m).
ARRIVE_M = 0.2
# A robot this close to its hold point is there (first in line: one stopped behind another
# is two radii and a gap away).
ASK_AHEAD_M = 0.3


def lead_m(speed_mps: float, accel_mps2: float, answer_s: float) -> float:
    """How far short of the end of its grant a robot at `speed_mps` asks for the next one:
    its braking distance plus what it drives while the answer comes (`answer_s`, simulated)."""
    return speed_mps * speed_mps / (2 * accel_mps2) + speed_mps * answer_s


class TrafficGate:
    def __init__(
        self, robot_id: str, tmap: TrafficMap, points_of: PointsOf, lane_offset: LaneOffset
    ) -> None:
        self.robot_id = robot_id
        self.map = tmap
        self.points_of = points_of
        self.lane_offset = lane_offset
        self.route: tuple[str, ...] = ()
        # Where the driver's path ends short of the grant's next waypoint (None: on one).
        self._hold: Point | None = None
        self.progress = 0
        self.clear = False
        self.granted = 0
        # The operator's closures: no hold point on a closed aisle.
        self.closures = NO_CLOSURES

    @property
    def last(self) -> int:
        return len(self.route) - 1

    @property
    def arrived(self) -> bool:
        return bool(self.route) and self.progress == self.last

    def start(self, route: Sequence[str]) -> None:
        """A new leg from where the robot is (route[0]); nothing beyond it granted yet."""
        self.route = tuple(route)
        self.progress, self.clear, self.granted = 0, False, 0

    def start_from_here(self, path_from: Callable[[str], list[str]], start: str) -> None:
        """A new move, maybe while the last one is under way: from the waypoint the robot is
        at, or on along the aisle it is on to the waypoint ahead (granted to it, or where it
        waits short of it) — never back to one it has left to others. `start`: where its route
        starts when it has not moved under traffic control yet (`lanes.start_waypoint`)."""
        if not self.route or self.arrived or not self.clear:
            self.start(path_from(self.route[self.progress] if self.route else start))
            return
        here, ahead = self.route[self.progress], self.route[self.progress + 1]
        holds_ahead = self.progress < self.granted
        self.start([here, *path_from(ahead)])
        self.clear, self.granted = True, 1 if holds_ahead else 0

    def ask(self, loaded: bool, at: Point, approaching: bool = False) -> Ask:
        return Ask(
            self.robot_id,
            self.route,
            self.progress,
            self.clear,
            self.granted,
            loaded,
            self.wants_more(at, approaching),
        )

    def wants_more(self, at: Point, approaching: bool = False) -> bool:
        """At the end of its grant: on the waypoint it may not leave yet, or at the hold point
        in its lane; or `approaching` it (driving there with nobody in the way, within
        `lead_m`): asked ahead, the next grant comes before the robot must brake, so a free way
        never stops it. A robot stopped behind another one waiting there does not ask: the
        grant goes to the first in line, not to whoever asks first."""
        if not self.route or self.granted == self.last:
            return False
        if approaching:
            return True
        if self.progress < self.granted:
            return False
        if self._hold is None:
            return True
        return math.hypot(at[0] - self._hold[0], at[1] - self._hold[1]) <= ASK_AHEAD_M

    def reroute(self, route: Sequence[str]) -> bool:
        """Take the controller's detour: the same leg's end, and the same route as far as the
        robot has come (its grant and the waypoint ahead when it is clear of the last one), so
        that every index stays true. False (and nothing changed) for anything else."""
        keep = max(self.granted, self.progress + (1 if self.clear else 0)) + 1
        route = tuple(route)
        if not self.route or route[-1:] != self.route[-1:] or route[:keep] != self.route[:keep]:
            return False
        self.route = route
        return True

    def grant(self, granted: int) -> bool:
        """The controller's answer; True when the robot may drive further than before."""
        if not self.route or granted <= self.granted or granted > self.last:
            return False
        self.granted = granted
        return True

    def path(self, at: Point) -> list[Point]:
        """The driver's path from `at` as far as granted."""
        nodes = list(self.route[self.progress : self.granted + 1])
        self._hold = None
        ahead = self.route[self.granted :][:2]
        if (
            self.granted == self.last
            or not self.map.holdable(*ahead)
            or frozenset(ahead) in self.closures.aisles
        ):
            # To the end, or to where the leg starts (a dock, the pass, a table) to wait there.
            return self.points_of(nodes, at) if len(nodes) > 1 else [at]
        # Stop short of the next waypoint, in the lane of the aisle towards it.
        nodes.append(self.route[self.granted + 1])
        a, b = (self.map.floor.points[n] for n in nodes[-2:])
        hx, hy = self.map.hold_point(self.route, self.granted)
        offset = self.lane_offset(nodes[-2], nodes[-1])
        length = math.hypot(b.x - a.x, b.y - a.y)
        hold = (hx + (b.y - a.y) / length * offset, hy - (b.x - a.x) / length * offset)
        points = self.points_of(nodes, at)
        short = self.map.clear_of(nodes[-1])
        while len(points) > 1 and math.hypot(points[-1][0] - b.x, points[-1][1] - b.y) < short:
            points.pop()
        self._hold = hold
        return [*points, hold]

    def moved(self, at: Point) -> bool:
        """The robot is at `at`: True when its report changed (a waypoint reached, or left far
        enough behind)."""
        before = (self.progress, self.clear)
        for i in range(self.granted, self.progress, -1):
            # Past a waypoint once clear of the one before (the leg's end: once there).
            away = i == self.last or self._dist(at, i - 1) >= self._clear_of(i - 1)
            if self._reached(i, at) and away:
                self.progress, self.clear = i, False
                break
        # Clear once on the aisle after the waypoint and far enough from it; for good, as the
        # way on leads away from it (a lane's corner may pass nearer than the way in did).
        self.clear = self.clear or (
            self.progress < self.last
            and self._along(self.progress, at) > 0.0
            and self._dist(at, self.progress) >= self._clear_of(self.progress)
        )
        return (self.progress, self.clear) != before

    def _clear_of(self, i: int) -> float:
        return self.map.clear_of(self.route[i])

    def _dist(self, at: Point, i: int) -> float:
        p = self.map.floor.points[self.route[i]]
        return math.hypot(at[0] - p.x, at[1] - p.y)

    def _reached(self, i: int, at: Point) -> bool:
        """At route[i] (within a lane's corner of it; the leg's end: on it) or on the aisle
        after it — and no farther from its lane than from the lane of the one before (the same
        on a straight way on): an aisle that folds back over the way in (a dock's, beside the
        corridor) is not reached from the way in."""
        if self._dist(at, i) <= (ARRIVE_M if i == self.last else REACH_M):
            return True
        return (
            i < self.last
            and 0.0 < self._along(i, at) <= 1.0
            and self._off(i, at) <= REACH_M
            and (i == 0 or self._off_lane(i, at) <= self._off_lane(i - 1, at))
        )

    def _along(self, i: int, at: Point) -> float:
        """Where `at` projects onto the aisle route[i] → route[i + 1] (0 at i, 1 at i + 1)."""
        a, b = (self.map.floor.points[n] for n in self.route[i : i + 2])
        dx, dy = b.x - a.x, b.y - a.y
        length2 = dx * dx + dy * dy
        return ((at[0] - a.x) * dx + (at[1] - a.y) * dy) / length2 if length2 else 1.0

    def _off_lane(self, i: int, at: Point) -> float:
        """How far `at` is from the lane of the aisle route[i] → route[i + 1]."""
        return abs(self._off(i, at) - self.lane_offset(*self.route[i : i + 2]))

    def _off(self, i: int, at: Point) -> float:
        """How far `at` is to the side of that aisle's centre line."""
        a, b = (self.map.floor.points[n] for n in self.route[i : i + 2])
        dx, dy = b.x - a.x, b.y - a.y
        length = math.hypot(dx, dy)
        return abs((at[0] - a.x) * dy - (at[1] - a.y) * dx) / length if length else 0.0
