"""Serving trips: which ready orders ride together, and in what order the tables are visited.

A trip starts from the oldest ready order and takes other ready orders whose tables lie within
`service.batch_radius_m` of its table, one tray per order, up to the robot's trays. Stops are
visited nearest-first along the floor graph from the pass. A full tray set leaves at once, and
so does a trip no neighbour is about to join. It waits — up to `service.batch_window_s` (at
least a short scaled moment) from when its oldest order was ready — only while an order for a
table within the radius is still cooking and due to be ready inside that time: one table's food
is never held for a neighbour that is not about to come.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from orchestrator.config import RestaurantConfig
from orchestrator.store.trips import Stop

# Simulated seconds a ready order waits for companions finishing with it.
BATCH_WAIT_S = 10.0


@dataclass(frozen=True)
class ReadyOrder:
    order_id: str
    table_id: str
    entry_id: str
    # time.monotonic() when the dispatcher saw it ready.
    since: float
    items: tuple[str, ...] = ()


@dataclass(frozen=True)
class Coming:
    """An order still cooking, and when (time.monotonic()) its last dish should be done."""

    order_id: str
    table_id: str
    eta: float


def items_of(cfg: RestaurantConfig, lines: list[dict[str, Any]]) -> tuple[str, ...]:
    """Human-readable items of an order for the robot's screen, e.g. '2x Kung Pao Chicken'."""
    out = []
    for line in lines:
        dish = cfg.dish_by_id.get(line.get('dish_id', ''))
        name = dish.name.en if dish else line.get('dish_id', '?')
        out.append(f'{line.get("quantity", 1)}x {name}')
    return tuple(out)


def table_distance(cfg: RestaurantConfig, a: str, b: str) -> float:
    ta, tb = cfg.table_by_id[a], cfg.table_by_id[b]
    return math.hypot(ta.x - tb.x, ta.y - tb.y)


def batch(cfg: RestaurantConfig, ready: list[ReadyOrder], trays: int) -> list[ReadyOrder]:
    """The orders of the next trip: the oldest and its nearest neighbours within the radius."""
    if not ready:
        return []
    seed = min(ready, key=lambda o: o.since)
    near = sorted(
        (o for o in ready if o is not seed),
        key=lambda o: (table_distance(cfg, seed.table_id, o.table_id), o.since),
    )
    radius = cfg.service.batch_radius_m
    mates = [o for o in near if table_distance(cfg, seed.table_id, o.table_id) <= radius]
    return [seed, *mates[: trays - 1]]


@dataclass(frozen=True)
class Timing:
    """How long a trip may wait (real seconds, from its oldest order being ready) for `coming`
    neighbours: `window_s`, and at least `wait_s`."""

    wait_s: float
    window_s: float = 0.0
    coming: tuple[Coming, ...] = ()


def due(cfg: RestaurantConfig, ready: list[ReadyOrder], trays: int, now: float, t: Timing) -> bool:
    """Whether the trip of the oldest ready order should leave now: its trays are full, or no
    order for a nearby table is due to be ready within `max(t.wait_s, t.window_s)` of the
    oldest being ready (or that long is over). Food is never held for nothing: with no
    neighbour coming it leaves at once."""
    chosen = batch(cfg, ready, trays)
    if not chosen:
        return False
    if len(chosen) >= trays:
        return True
    seed = chosen[0]
    limit = max(t.wait_s, t.window_s)
    if now - seed.since >= limit:
        return True
    radius = cfg.service.batch_radius_m
    return not any(
        c.eta <= seed.since + limit and table_distance(cfg, seed.table_id, c.table_id) <= radius
        for c in t.coming
    )


def next_trip(
    cfg: RestaurantConfig, ready: list[ReadyOrder], trays: int, now: float, t: Timing
) -> list[ReadyOrder]:
    """The orders of the trip to send now, oldest first; none if every ready order is (still)
    waiting. A batch held for a neighbour does not hold back orders for other tables."""
    left = sorted(ready, key=lambda o: o.since)
    while left:
        chosen = batch(cfg, left, trays)
        if due(cfg, left, trays, now, t):
            return chosen
        held = {o.order_id for o in chosen}
        left = [o for o in left if o.order_id not in held]
    return []


def stops(cfg: RestaurantConfig, orders: list[ReadyOrder]) -> list[Stop]:
    """One stop per table, nearest-first from the pass; tray numbers in loading order."""
    by_table: dict[str, list[ReadyOrder]] = {}
    for o in orders:
        by_table.setdefault(o.table_id, []).append(o)
    floor = cfg.floor
    here = floor.pass_point.id
    route = []
    left = set(by_table)
    while left:
        nxt = min(
            left,
            key=lambda t: (floor.length(here, cfg.table_by_id[t].waypoint), t),
        )
        route.append(nxt)
        left.remove(nxt)
        here = cfg.table_by_id[nxt].waypoint
    out, tray = [], 0
    for table_id in route:
        group = by_table[table_id]
        out.append(
            Stop(
                table_id,
                tuple(range(tray, tray + len(group))),
                tuple(o.order_id for o in group),
                tuple(i for o in group for i in o.items),
            )
        )
        tray += len(group)
    return out
