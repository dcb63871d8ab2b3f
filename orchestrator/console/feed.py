"""Turns raw feed entries into the console's deltas, once per process (see fanout.py).

An order event becomes the order's whole ticket, a robot event the robot's mirrored state, an
alert the refreshed alert list: each read once per batch however many consoles are open, and
each message self-contained, so a client applies it by replacing what it shows. Only the kinds
asked for are read (a process with diner menus and no console open: the menu alone).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from redis.asyncio import Redis

from orchestrator.config import RestaurantConfig
from orchestrator.console import fleet_board, tickets
from orchestrator.feed_reader import Entry, Kinds, Transform, wanted
from orchestrator.store import alerts, closures, feed, jobs, menu

ALERT_EVENTS = frozenset({'alert', 'alert.acked', 'alert.resolved'})
NOT_ORDER_EVENTS = ALERT_EVENTS | {
    'audit',
    'menu.changed',
    'robot.state',
    'fleet.heartbeats',
    closures.FEED_EVENT,
}
DEAD_LETTER_EVENTS = frozenset({'dish.failed', 'dish.requeued', 'dead.resolved'})


async def menu_state(r: Redis, cfg: RestaurantConfig) -> dict[str, Any]:
    return (await menu.read_state(r, (d.id for d in cfg.dishes))).view()


def console_transform(r: Redis, cfg: RestaurantConfig) -> Transform:
    known_robots = cfg.robot_kinds

    async def transform(entries: list[Entry], kinds: Kinds) -> list[tuple[str, dict[str, Any]]]:
        want = partial(wanted, kinds)
        out: list[tuple[str, dict[str, Any]]] = []
        orders: dict[str, tuple[str, str]] = {}
        robots: dict[str, str] = {}
        latest: dict[str, str] = {}
        heartbeats: tuple[str, dict[str, int]] | None = None
        closed: tuple[str, list[dict[str, Any]]] | None = None
        for entry_id, fields in entries:
            kind = fields.get('type', '')
            data = feed.parse(fields).payload()
            if kind == 'robot.state':
                rid = fields.get('robot_id') or data.get('robot_id', '')
                if rid in known_robots:
                    robots[rid] = entry_id
            elif kind in ALERT_EVENTS:
                latest['alerts'] = entry_id
            elif kind == 'menu.changed':
                latest['menu'] = entry_id
            elif kind == 'fleet.heartbeats':
                heartbeats = (entry_id, data.get('seen', {}))
            elif kind == closures.FEED_EVENT:
                closed = (entry_id, data.get('closures', []))
            elif kind == 'audit' and want('audit'):
                out.append((entry_id, {'type': 'audit', 'entry': data}))
            if kind not in NOT_ORDER_EVENTS and fields.get('order_id'):
                orders[fields['order_id']] = (entry_id, kind)
            if kind in DEAD_LETTER_EVENTS or (kind == 'alert' and data.get('kind') == 'job_dead'):
                latest['dead'] = entry_id
        for ticket in await tickets.load_tickets(r, cfg, orders) if want('ticket') else []:
            entry_id, kind = orders[ticket['id']]
            out.append((entry_id, {'type': 'ticket', 'event': kind, 'ticket': ticket}))
        if robots and want('robot'):
            for robot in await fleet_board.load_robots(r, cfg, list(robots)):
                out.append((robots[robot['id']], {'type': 'robot', 'robot': robot}))
        if heartbeats is not None and want('heartbeats'):
            out.append((heartbeats[0], {'type': 'heartbeats', 'seen': heartbeats[1]}))
        if closed is not None and want('closures'):
            view = fleet_board.closures_view(cfg, closed[1])
            out.append((closed[0], {'type': 'closures', **view}))
        if 'alerts' in latest and want('alerts'):
            out.append((latest['alerts'], {'type': 'alerts', 'alerts': await alerts.recent(r)}))
        if 'menu' in latest and want('menu'):
            out.append((latest['menu'], {'type': 'menu', **await menu_state(r, cfg)}))
        if 'dead' in latest and want('dead'):
            out.append((latest['dead'], {'type': 'dead', 'dead': await jobs.dead_letters(r)}))
        out.sort(key=lambda m: tuple(int(p) for p in m[0].split('-')))
        return out

    return transform
