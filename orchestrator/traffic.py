"""Traffic control for the serving robots, as pure functions over the floor graph and the
robots' reservations: which robot may drive into a narrow aisle or across a junction now.

Resources (`TrafficMap`):
- a **stretch**: narrow aisles (narrower than two footprints plus margin: one robot fits)
  joined at nodes that touch no wide aisle and are no parking place (dock, charger) — a whole
  table lane, say; one robot in it at a time;
- a **junction**: a node on a wide aisle (where robots from different aisles meet) and the
  pass; one robot on it at a time. Docks and chargers belong to one robot each and are free.
Wide aisles are not reserved: robots keep to the right-hand lane and stop behind each other.

The scheme — reserve to the next safe spot, all or nothing:
- A robot may wait only where it blocks nobody: short of the next junction on a wide aisle
  (its lane; `hold_m` before the node, far enough past the one behind it), at its dock or
  charger, or at the end of its leg (a table, the pass) with what it already holds.
- From there it asks for every resource up to the next such spot at once (`Controller.ask`)
  and gets all of them or none. It frees each one as it leaves it behind (`occupied`).
- Why it cannot deadlock: a robot that waits holds nothing, or only what surrounds the end of
  its leg (a dead-end lane, the pass). Every other holder is driving within its grant to a
  spot where it holds at most that, so it frees what it drove through without waiting on
  anyone. A robot in a dead-end lane waits for the junction at its mouth only, and a junction
  is only ever held by a robot driving over it. So no cycle of robots waiting on each other can
  form, unless two robots each end a leg on a junction the other's next block crosses (a table
  stop on a wide aisle): the demo floor has none, and `traffic.deadlocks` would count it.
- Who goes first: when a waiting robot could be granted now, nobody else may take what it
  asks for unless they come before it — food on board before empty, then the longest waiting.
  Deferring only to robots that can go now keeps the deferral itself from blocking anyone.
- Detours (`Controller.replan`): a robot refused for `replan_after_s` because another robot
  holds what it needs is sent round it — and round every stretch others hold — when such a way
  is at most `detour_max_m` longer. It keeps the waypoint it is at or heads for: it never turns
  back on an aisle, so the scheme above holds on the new route as on the old.
- Closures (`orchestrator.closures`, the operator's re-route): no robot is granted a closed
  aisle or waypoint; a robot whose route crosses one beyond its grant is sent round it at
  once, however much longer; with no way round it waits at its last stop before it.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from orchestrator.closures import NO_CLOSURES, Closures, aisle_name, must_replan
from orchestrator.config import Floor, RestaurantConfig

# Clearance (m) beyond two touching footprints that two robots need to pass in one aisle.
PASSING_MARGIN_M = 0.1
# A dock or charger is one robot's own: nobody meets it in the aisle leading there.
OWN_PLACES = ('dock', 'charger')
# Step (m) of the walk out from a junction that finds where a waiting robot is out of the way.
CLEAR_STEP_M = 0.05
# Resource names: a narrow stretch, a junction.
STRETCH = 'stretch:'
JUNCTION = 'junction:'
# The controller's answer to a robot that waits before a closure: this, then the closure.
CLOSED = 'closed '


def two_lanes(width_m: float, radius_m: float) -> bool:
    """An aisle two robots of `radius_m` can pass each other in."""
    return width_m >= 4 * radius_m + PASSING_MARGIN_M


def lane_offset(floor: Floor, a: str, b: str, radius_m: float) -> float:
    """How far (m) right of the centre line a robot drives from waypoint `a` to `b`: a quarter
    of the aisle's width where it has two lanes, else 0 (and 0 on the aisle to a dock or
    charger: a lane beside the centre line would only take it closer to the robots parked on
    the next ones)."""
    if {floor.points[a].kind, floor.points[b].kind} & set(OWN_PLACES):
        return 0.0
    width = floor.width(a, b)
    return width / 4 if two_lanes(width, radius_m) else 0.0


class RouteError(ValueError):
    """A route or progress that does not fit the floor; the message says what."""


@dataclass(frozen=True)
class TrafficMap:
    """The floor's reservable resources for robots of radius `radius_m`."""

    floor: Floor
    radius_m: float
    # Narrow aisle (its two nodes) -> the stretch it belongs to.
    stretch_of: dict[frozenset[str], str]
    # Node inside a stretch (all its aisles narrow) -> that stretch.
    inside: dict[str, str]
    # Nodes one robot at a time: on a wide aisle, and the pass.
    junctions: frozenset[str]
    # Each waypoint's `clear_of` (the floor is fixed; robots ask it at every tick).
    clear: dict[str, float]
    # Junction -> its resource: junctions nearer each other than two footprints and a margin
    # are one (robots on both would touch: the demo's c9_5 and c10_0, 0.5 m apart).
    junction_of: dict[str, str]

    @classmethod
    def of_restaurant(cls, cfg: RestaurantConfig) -> TrafficMap:
        """The map every robot and the controller share: sized for the widest serving robot."""
        return cls.of(cfg.floor, max((r.radius_m for r in cfg.serving_robots), default=0.3))

    @classmethod
    def of(cls, floor: Floor, radius_m: float) -> TrafficMap:
        parking = {w.id for w in floor.waypoints if w.kind in OWN_PLACES}
        aisles = {frozenset((a.a, a.b)): a.width_m for a in floor.aisles}
        drivable = {e: w for e, w in aisles.items() if w >= floor.min_aisle_m}
        narrow = [e for e, w in drivable.items() if not two_lanes(w, radius_m)]
        on_wide = {n for e, w in drivable.items() if two_lanes(w, radius_m) for n in e}
        touched = {n for e in drivable for n in e}
        inside = {n for n in touched if n not in on_wide and n not in parking}
        # Narrow aisles sharing an inside node are one stretch (union-find on the aisles).
        parent = {e: e for e in narrow}

        def root(e: frozenset[str]) -> frozenset[str]:
            while parent[e] != e:
                parent[e] = parent[parent[e]]
                e = parent[e]
            return e

        by_node: dict[str, list[frozenset[str]]] = {}
        for e in narrow:
            for n in e:
                if n in inside:
                    by_node.setdefault(n, []).append(e)
        for edges in by_node.values():
            for e in edges[1:]:
                parent[root(e)] = root(edges[0])
        name = {}
        for e in narrow:
            members = sorted('~'.join(sorted(m)) for m in narrow if root(m) == root(e))
            name[e] = STRETCH + members[0]
        junctions = {n for n in on_wide if n not in parking} | {floor.pass_point.id}
        spots = {j: frozenset({j}) for j in junctions}
        for a in floor.aisles:
            near = floor.distance(a.a, a.b) < 2 * radius_m + PASSING_MARGIN_M
            if near and {a.a, a.b} <= junctions:
                merged = spots[a.a] | spots[a.b]
                spots |= dict.fromkeys(merged, merged)
        return cls(
            floor,
            radius_m,
            name,
            {n: name[es[0]] for n, es in by_node.items()},
            frozenset(junctions),
            {w.id: _clear_of(floor, w.id, radius_m) for w in floor.waypoints},
            {j: JUNCTION + min(spot) for j, spot in spots.items()},
        )

    @property
    def clear_m(self) -> float:
        """Two footprints and a margin: how far apart two robots' centres must stay."""
        return 2 * self.radius_m + PASSING_MARGIN_M

    def clear_of(self, node: str) -> float:
        return self.clear[node]

    def node_needs(self, node: str) -> set[str]:
        out = set()
        if node in self.junction_of:
            out.add(self.junction_of[node])
        if node in self.inside:
            out.add(self.inside[node])
        return out

    def aisle_needs(self, a: str, b: str) -> set[str]:
        stretch = self.stretch_of.get(frozenset((a, b)))
        return {stretch} if stretch else set()

    def holdable(self, a: str, b: str) -> bool:
        """A robot may wait on aisle a→b short of b: it is wide and long enough to stand
        clear of both ends."""
        if frozenset((a, b)) in self.stretch_of:
            return False
        return self.floor.distance(a, b) >= self.clear_of(a) + self.clear_of(b)

    def check(self, route: Sequence[str]) -> None:
        if not route:
            raise RouteError('the route is empty')
        for node in route:
            if node not in self.floor.points:
                raise RouteError(f'unknown waypoint {node!r}')
        for a, b in itertools.pairwise(route):
            if b not in {n for n, _ in self.floor.neighbours(a)}:
                raise RouteError(f'no drivable aisle from {a} to {b}')

    def stops(self, route: Sequence[str]) -> list[int]:
        """Route indices where a robot may wait for its next grant: the ends of holdable
        aisles' first nodes (it waits on the aisle after them) and the route's end."""
        last = len(route) - 1
        return [i for i in range(last) if self.holdable(route[i], route[i + 1])] + [last]

    def next_stop(self, route: Sequence[str], after: int) -> int:
        return next(i for i in self.stops(route) if i > after)

    def occupied(self, route: Sequence[str], progress: int, clear: bool, granted: int) -> set[str]:
        """What a robot holds that has reached `route[progress]` (and, with `clear`, left it
        far enough behind) and may drive on up to `granted`: every node and narrow aisle from
        there to there."""
        out: set[str] = set()
        for i in range(progress, granted + 1):
            if not (i == progress and clear):
                out |= self.node_needs(route[i])
            if i < granted or (i == progress and clear):
                # A robot clear of route[progress] is on the aisle after it, even if it waits.
                out |= self.aisle_needs(route[i], route[i + 1])
        return out

    def hold_point(self, route: Sequence[str], stop: int) -> tuple[float, float]:
        """Where a robot granted up to `stop` (not the route's end) waits: on the aisle after
        it, `clear_of` the next node short of it."""
        a, b = self.floor.points[route[stop]], self.floor.points[route[stop + 1]]
        length = math.hypot(b.x - a.x, b.y - a.y)
        t = (length - self.clear_of(route[stop + 1])) / length
        return a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t


def _clear_of(floor: Floor, node: str, radius_m: float) -> float:
    """How far from `node` a robot waiting on one of its aisles, in its lane, must stand to
    leave room for the robots driving over `node` along its other aisles, in their lanes: its
    centre at least two footprints and a margin from every lane line of every other aisle.
    Further where aisles leave the node at a sharp angle (docks fanning out from one junction)
    or where a lane of the waiting robot's aisle turns into another aisle's on the waiting side
    (the way into the pass): a hold point in anyone's way deadlocks the two layers, the robot
    driving over the junction stopped by the obstacle stop for one that waits for it."""
    clear_m = 2 * radius_m + PASSING_MARGIN_M
    here = floor.points[node]
    neighbours = [n for n, _ in floor.neighbours(node)]
    # Every other aisle's lane lines, each as a segment from the node's end to the far end.
    lines = {}
    for k in neighbours:
        far = floor.points[k]
        length = math.hypot(far.x - here.x, far.y - here.y)
        nx, ny = (far.y - here.y) / length, -(far.x - here.x) / length
        off = lane_offset(floor, node, k, radius_m)
        lines[k] = [
            ((here.x + s * nx, here.y + s * ny), (far.x + s * nx, far.y + s * ny))
            for s in {off, -off}
        ]
    out = clear_m
    for m in neighbours:
        start = floor.points[m]
        length = math.hypot(here.x - start.x, here.y - start.y)
        ux, uy = (here.x - start.x) / length, (here.y - start.y) / length
        off = lane_offset(floor, m, node, radius_m)
        others = [seg for k in neighbours if k != m for seg in lines[k]]
        d = clear_m
        while d < length and any(
            to_segment((here.x - ux * d + uy * off, here.y - uy * d - ux * off), seg) < clear_m
            for seg in others
        ):
            d += CLEAR_STEP_M
        out = max(out, d)
    return out


def to_segment(p: tuple[float, float], seg: tuple[tuple[float, float], ...]) -> float:
    """How far `p` is from the segment `seg` (from its point, if it has no length)."""
    (ax, ay), (bx, by) = seg
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = max(0.0, min(1.0, ((p[0] - ax) * dx + (p[1] - ay) * dy) / length2)) if length2 else 0.0
    return math.hypot(p[0] - ax - t * dx, p[1] - ay - t * dy)


@dataclass(frozen=True)
class Ask:
    """A robot's report and request: its leg's route, how far along it is, what it may drive
    to now (`granted`), and whether it carries food."""

    robot_id: str
    route: tuple[str, ...]
    progress: int
    clear: bool
    granted: int
    loaded: bool = False
    # Asking for more (at the end of its grant); False: only reporting progress.
    extend: bool = True


def kept(ask: Ask) -> int:
    """The last route index a detour keeps: the waypoint the robot is at or heads for, or the
    end of its grant when that is further (it drives on that far)."""
    return max(ask.granted, ask.progress + (1 if ask.clear else 0))


def detour(
    tm: TrafficMap,
    ask: Ask,
    avoid: frozenset[str],
    longer_by_m: float,
    closures: Closures = NO_CLOSURES,
) -> tuple[str, ...] | None:
    """`ask`'s route with its rest, from `kept(ask)` on, replaced by the shortest way that
    needs none of `avoid` and crosses no closure; None when there is no such way, when it is
    the route itself or when it is more than `longer_by_m` longer."""
    route, floor = ask.route, tm.floor
    keep = kept(ask)
    if keep >= len(route) - 1:
        return None
    avoid = avoid - tm.node_needs(route[keep])

    def usable(a: str, b: str) -> bool:
        if closures.blocks(a, b):
            return False
        return not (tm.aisle_needs(a, b) | tm.node_needs(b)) & avoid

    try:
        rest = floor.path_over(route[keep], route[-1], usable)
    except ValueError:
        return None
    longer = floor.path_length(rest) - floor.path_length(list(route[keep:]))
    if tuple(rest) == route[keep:] or longer > longer_by_m:
        return None
    return (*route[:keep], *rest)


@dataclass
class _Waiting:
    since_s: float
    loaded: bool
    needs: frozenset[str]
    # The route it waits on: a new leg or a detour has other needs.
    route: tuple[str, ...] = ()


@dataclass
class Controller:
    """Reservations of the whole fleet. Robots report what they hold with every ask, so a
    restarted controller learns the fleet's reservations again from their next asks."""

    map: TrafficMap
    # Detours (`replan`): after how long a wait (the `now_s` clock) and how much longer at most.
    replan_after_s: float = 10.0
    detour_max_m: float = 10.0
    holds: dict[str, frozenset[str]] = field(default_factory=dict)
    waiting: dict[str, _Waiting] = field(default_factory=dict)
    # Detours taken per robot, and when each robot last took one.
    replans: Counter[str] = field(default_factory=Counter)
    _replanned_s: dict[str, float] = field(default_factory=dict)
    # Grants refused, and pairs of robots found holding the same resource (after a restart).
    refusals: int = 0
    conflicts: int = 0
    last_conflict: str = ''
    # The operator's closures, and the closure each robot waits before (no way round it).
    closures: Closures = NO_CLOSURES
    at_closure: dict[str, str] = field(default_factory=dict)
    # Each robot's last ask: whose route a new closure crosses (`crossing`).
    asks: dict[str, Ask] = field(default_factory=dict)

    def holder(self, resource: str, besides: str) -> str | None:
        return next((r for r, h in self.holds.items() if r != besides and resource in h), None)

    def ask(self, ask: Ask, now_s: float) -> int:
        """The route index the robot may drive to now (its grant, extended when possible).
        Raises RouteError for a route or progress that does not fit the floor."""
        route, tm = ask.route, self.map
        tm.check(route)
        if not 0 <= ask.progress <= ask.granted < len(route):
            raise RouteError(
                f'progress {ask.progress} and granted {ask.granted} must satisfy '
                f'0 <= progress <= granted < {len(route)}'
            )
        held = frozenset(tm.occupied(route, ask.progress, ask.clear, ask.granted))
        # What it holds is where it already is or drives: taken as fact.
        for r in held - self.holds.get(ask.robot_id, set()):
            other = self.holder(r, ask.robot_id)
            if other is not None:
                self.conflicts += 1
                self.last_conflict = f'{ask.robot_id} reports holding {r}, held by {other}'
                break
        self.holds[ask.robot_id] = held
        self.asks[ask.robot_id] = ask
        self.at_closure.pop(ask.robot_id, None)
        if ask.granted == len(route) - 1 or not ask.extend:
            self.waiting.pop(ask.robot_id, None)
            return ask.granted
        stop = tm.next_stop(route, ask.granted)
        needs = frozenset(tm.occupied(route, ask.progress, ask.clear, stop)) - held
        if closed := self._closed_ahead(route, ask.granted, stop):
            # Waits where it is, before the closure, for nobody: nothing it needs is deferred.
            self.at_closure[ask.robot_id] = closed
            needs = frozenset()
        if closed or self._taken(ask.robot_id, needs) or self._deferred(ask, needs, now_s):
            since = self.waiting.get(ask.robot_id)
            self.waiting[ask.robot_id] = _Waiting(
                since.since_s if since else now_s, ask.loaded, needs, route
            )
            self.refusals += 1
            return ask.granted
        self.waiting.pop(ask.robot_id, None)
        self.holds[ask.robot_id] = held | needs
        return stop

    def replan(self, ask: Ask, now_s: float) -> Ask:
        """`ask` on a detour (`detour`) when the robot has waited on this route for
        `replan_after_s` (since it began to wait, or took its last detour) for what another robot
        holds; else `ask` itself. The caller asks on what it returns and tells the robot.
        A route that crosses a closure beyond the grant is sent round it at once."""
        if must_replan({ask.robot_id: (ask.route, kept(ask))}, self.closures):
            return self._round(ask, detour(self.map, ask, frozenset(), math.inf, self.closures))
        waiting = self.waiting.get(ask.robot_id)
        if waiting is None or waiting.route != ask.route or not ask.extend:
            return ask
        since = max(waiting.since_s, self._replanned_s.get(ask.robot_id, -math.inf))
        blocked = frozenset(r for r in waiting.needs if self.holder(r, ask.robot_id))
        if now_s - since < self.replan_after_s or not blocked:
            return ask
        # Round what blocks it, and into no other stretch that somebody holds.
        held = {r for other, h in self.holds.items() if other != ask.robot_id for r in h}
        avoid = blocked | {r for r in held if r.startswith(STRETCH)}
        route = detour(self.map, ask, avoid, self.detour_max_m, self.closures)
        if route is not None:
            self._replanned_s[ask.robot_id] = now_s
        return self._round(ask, route)

    def _round(self, ask: Ask, route: tuple[str, ...] | None) -> Ask:
        if route is None:
            return ask
        self.replans[ask.robot_id] += 1
        return replace(ask, route=route)

    def crossing(self) -> dict[str, str]:
        """Robot -> the closure its route crosses beyond what it keeps: the robots a new
        closure sends round it (on their next ask, within a second)."""
        return must_replan({r: (a.route, kept(a)) for r, a in self.asks.items()}, self.closures)

    def waits_for(self, robot_id: str) -> str:
        """A robot the waiting `robot_id` waits for: one holding what it asks for, else one
        going first; '' when it does not wait."""
        mine = self.waiting.get(robot_id)
        if mine is None:
            return ''
        for resource in sorted(mine.needs):
            if holder := self.holder(resource, robot_id):
                return holder
        return next(
            (
                other
                for other, w in sorted(self.waiting.items())
                if other != robot_id
                and (not w.loaded, w.since_s) < (not mine.loaded, mine.since_s)
                and w.needs & mine.needs
            ),
            '',
        )

    def _closed_ahead(self, route: Sequence[str], granted: int, stop: int) -> str:
        """A closure on the way from `granted` to `stop`, or on the aisle after `stop` (where a
        robot granted `stop` waits short of the next waypoint), or ''."""
        if found := self.closures.on_route(route, granted, stop):
            return found
        aisle = frozenset(route[stop : stop + 2])
        return aisle_name(*route[stop : stop + 2]) if aisle in self.closures.aisles else ''

    def _taken(self, robot_id: str, needs: frozenset[str]) -> bool:
        return any(self.holder(r, robot_id) for r in needs)

    def _deferred(self, ask: Ask, needs: frozenset[str], now_s: float) -> bool:
        """Another robot that comes first could go now and wants some of the same."""
        mine = self.waiting.get(ask.robot_id)
        rank = (not ask.loaded, mine.since_s if mine else now_s)
        return any(
            (not w.loaded, w.since_s) < rank
            and w.needs & needs
            and not self._taken(other, w.needs)
            for other, w in self.waiting.items()
            if other != ask.robot_id
        )
