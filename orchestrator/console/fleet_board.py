"""The fleet as the console shows it: every configured robot with its last heartbeat, and the
floor map with what the operator closed on it."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from orchestrator.closures import Closures, unreachable_tables
from orchestrator.config import RestaurantConfig
from orchestrator.store import closures, robots
from orchestrator.store.robots import RobotRecord


def robot_view(cfg: RestaurantConfig, robot_id: str, state: RobotRecord | None) -> dict[str, Any]:
    """Config facts (kind, home) merged with the mirrored RobotState; no state = never seen."""
    kind = cfg.robot_kinds[robot_id]
    if kind == 'cooking':
        c = next(c for c in cfg.cooking_robots if c.id == robot_id)
        home: dict[str, Any] = {'stations': c.stations, 'x': c.x, 'y': c.y}
    else:
        s = next(s for s in cfg.serving_robots if s.id == robot_id)
        dock = cfg.floor.points[s.dock]
        home = {'dock': s.dock, 'trays': s.trays, 'x': dock.x, 'y': dock.y}
    if state is None:
        return {
            'id': robot_id,
            'kind': kind,
            **home,
            'mode': 'offline',
            'jobs': [],
            'theta': 0.0,
            'battery': None,
            'detail': '',
            'seen_at': 0,
        }
    return {
        'id': robot_id,
        'kind': kind,
        **home,
        'mode': state.mode or 'offline',
        'jobs': state.jobs,
        'x': state.x,
        'y': state.y,
        'theta': state.theta,
        'battery': state.battery,
        'detail': state.detail,
        'seen_at': state.seen_at,
    }


async def load_robots(
    r: Redis, cfg: RestaurantConfig, robot_ids: list[str] | None = None
) -> list[dict[str, Any]]:
    ids = robot_ids if robot_ids is not None else list(cfg.robot_kinds)
    return [robot_view(cfg, rid, st) for rid, st in (await robots.get_many(r, ids)).items()]


def floor_map(cfg: RestaurantConfig) -> dict[str, Any]:
    """What the SVG floor map draws: walls, aisles (with their waypoints), tables, the pass,
    docks, chargers and the other waypoints."""
    f = cfg.floor
    return {
        'width': f.width_m,
        'depth': f.depth_m,
        'table_size': f.table_size_m,
        'walls': [w.model_dump() for w in f.walls],
        'aisles': [
            {
                'a': a.a,
                'b': a.b,
                'x1': f.points[a.a].x,
                'y1': f.points[a.a].y,
                'x2': f.points[a.b].x,
                'y2': f.points[a.b].y,
                'width': a.width_m,
                'drivable': a.width_m >= f.min_aisle_m,
            }
            for a in f.aisles
        ],
        'tables': [
            {'id': t.id, 'name': t.name.model_dump(), 'x': t.x, 'y': t.y} for t in cfg.tables
        ],
        'points': [w.model_dump() for w in f.waypoints if w.kind in ('pass', 'dock', 'charger')],
        # The other waypoints, unlabelled: an operator taps one to close it.
        'junctions': [
            {'id': w.id, 'x': w.x, 'y': w.y}
            for w in f.waypoints
            if w.kind in ('junction', 'table')
        ],
    }


def closures_view(cfg: RestaurantConfig, closed: list[dict[str, Any]]) -> dict[str, Any]:
    """The closures (name, who, when) and the tables they cut off from the pass (table ->
    the closure on its way), whose orders wait at the pass."""
    names = Closures.known(cfg.floor, [c['name'] for c in closed])[0]
    return {'closures': closed, 'unreachable': unreachable_tables(cfg, names)}


async def load_closures(r: Redis, cfg: RestaurantConfig) -> dict[str, Any]:
    return closures_view(cfg, (await closures.read(r)).view())
