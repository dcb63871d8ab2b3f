"""The fleet as the console shows it: every configured robot with its last mirrored state."""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio import Redis

from orchestrator import redis_keys as keys
from orchestrator.config import RestaurantConfig


def robot_kinds(cfg: RestaurantConfig) -> dict[str, str]:
    return {
        **{c.id: 'cooking' for c in cfg.cooking_robots},
        **{s.id: 'serving' for s in cfg.serving_robots},
    }


def robot_view(cfg: RestaurantConfig, robot_id: str, state: dict[str, str]) -> dict[str, Any]:
    """Config facts (kind, home) merged with the mirrored RobotState; no state = never seen."""
    kind = robot_kinds(cfg)[robot_id]
    if kind == 'cooking':
        c = next(c for c in cfg.cooking_robots if c.id == robot_id)
        home: dict[str, Any] = {'stations': c.stations, 'x': c.x, 'y': c.y}
    else:
        s = next(s for s in cfg.serving_robots if s.id == robot_id)
        dock = cfg.floor.points[s.dock]
        home = {'dock': s.dock, 'trays': s.trays, 'x': dock.x, 'y': dock.y}
    try:
        jobs = json.loads(state.get('jobs') or '[]')
    except ValueError:
        jobs = []
    return {
        'id': robot_id,
        'kind': kind,
        **home,
        'mode': state.get('mode', 'offline'),
        'jobs': jobs,
        'x': float(state.get('x', home['x'])),
        'y': float(state.get('y', home['y'])),
        'theta': float(state.get('theta', 0) or 0),
        'battery': float(state['battery']) if state.get('battery') else None,
        'detail': state.get('detail', ''),
        'seen_at': int(state.get('seen_at') or 0),
    }


async def load_robots(
    r: Redis, cfg: RestaurantConfig, robot_ids: list[str] | None = None
) -> list[dict[str, Any]]:
    ids = robot_ids if robot_ids is not None else list(robot_kinds(cfg))
    async with r.pipeline(transaction=False) as pipe:
        for rid in ids:
            pipe.hgetall(keys.robot(rid))
        states = await pipe.execute()
    return [robot_view(cfg, rid, st) for rid, st in zip(ids, states, strict=True)]


def floor_map(cfg: RestaurantConfig) -> dict[str, Any]:
    """What the SVG floor map draws: walls, aisles, tables, the pass and docks."""
    f = cfg.floor
    return {
        'width': f.width_m,
        'depth': f.depth_m,
        'table_size': f.table_size_m,
        'walls': [w.model_dump() for w in f.walls],
        'aisles': [
            {
                'x1': f.points[a.a].x,
                'y1': f.points[a.a].y,
                'x2': f.points[a.b].x,
                'y2': f.points[a.b].y,
                'width': a.width_m,
                'drivable': a.width_m >= f.min_aisle_m,
            }
            for a in f.aisles
        ],
        'tables': [{'id': t.id, 'name': t.name, 'x': t.x, 'y': t.y} for t in cfg.tables],
        'points': [w.model_dump() for w in f.waypoints if w.kind in ('pass', 'dock', 'charger')],
    }
