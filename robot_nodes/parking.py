"""Where serving robots park (docks, chargers) against where the others drive.

A robot parked on its dock or charger must be out of every other robot's way: a robot that
stops for it may be holding a junction the others wait for, for good (README "Traffic
control"). A robot parks within its driver's stop tolerance (0.1 m for diffdrive) of the spot,
and a diffdrive robot drives a few cm off its line, so a parked robot counts `PARK_MARGIN_M`
larger than it is, against the obstacle stop's own geometry (`drivers.neighbours.clearance`)
along every lane path between two places. `robodine config check` runs it.
"""

from __future__ import annotations

import itertools
import math

from orchestrator.config import RestaurantConfig, Waypoint
from robot_nodes.drivers.neighbours import SIDE_MARGIN_M, Obstacle, clearance
from robot_nodes.lanes import lane_path

PARK_MARGIN_M = 0.15
PARKED = ('dock', 'charger')
# The places robots drive between.
STOPS = (*PARKED, 'pass', 'table')
# Ways named per parking spot in its error (the rest are counted).
NAMED = 3


def parked_in_the_way(cfg: RestaurantConfig) -> list[str]:
    """One line per parking spot with a robot parked on it in another robot's way, naming the
    ways (from → to) it blocks; empty when every parked robot is out of the way."""
    radius = max((r.radius_m for r in cfg.serving_robots), default=0.0)
    places = [w for w in cfg.floor.waypoints if w.kind in STOPS]
    spots = [w for w in places if w.kind in PARKED]
    blocked: dict[str, list[str]] = {}
    # How far from a way a parked robot can still be in it (the obstacle stop's sideways
    # reach), and how far a lane strays from the waypoints it joins (at most an aisle's width).
    reach = 2 * radius + PARK_MARGIN_M + SIDE_MARGIN_M
    stray = max(aisle.width_m for aisle in cfg.floor.aisles)
    for a, b in itertools.permutations(places, 2):
        route = cfg.floor.path(a.id, b.id)
        box = _box(cfg, route, reach + stray)
        near = [s for s in spots if s.id not in (a.id, b.id) and _inside(box, s)]
        if not near:
            continue  # the common case on a big floor: no lane to work out
        way = lane_path(cfg, route, radius, (a.x, a.y))
        for spot in near:
            parked = Obstacle(spot.id, spot.x, spot.y, radius + PARK_MARGIN_M)
            if clearance(way, radius, [parked])[0] < math.inf:
                blocked.setdefault(spot.id, []).append(f'{a.id} → {b.id}')
    return [
        f'floor.waypoints {spot}: a robot parked here is in the way of {len(ways)} route(s) '
        f'({", ".join(ways[:NAMED])}{", …" if len(ways) > NAMED else ""}); keep it '
        f'{PARK_MARGIN_M} m more than a footprint off every lane (README "Traffic control")'
        for spot, ways in blocked.items()
    ]


Box = tuple[float, float, float, float]


def _box(cfg: RestaurantConfig, route: list[str], margin: float) -> Box:
    """The box around the route's waypoints, `margin` wider on every side."""
    xs = [cfg.floor.points[w].x for w in route]
    ys = [cfg.floor.points[w].y for w in route]
    return min(xs) - margin, min(ys) - margin, max(xs) + margin, max(ys) + margin


def _inside(box: Box, spot: Waypoint) -> bool:
    x0, y0, x1, y1 = box
    return x0 < spot.x < x1 and y0 < spot.y < y1
