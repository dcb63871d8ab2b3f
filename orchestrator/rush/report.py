"""The rush report: service numbers read back from the restaurant's own records.

Everything comes from Redis after the run — each order's hash and timeline (the events the
diner page shows) and the serving trips (`rd:trip:*`) — converted to simulated seconds with the
rush's clock; the diners only contribute who was turned away and how late their actions ran.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from orchestrator.config import RestaurantConfig, ServingRobot
from orchestrator.dispatch.scheduling import OrderSpec, capacity_bound
from orchestrator.rush.bill_report import bill_report, bill_summary
from orchestrator.rush.diners import Party, SimClock
from orchestrator.rush.scenario import Scenario, offered_load
from orchestrator.store import feed
from orchestrator.store import orders as order_store
from orchestrator.store import trips as trip_store
from orchestrator.store.orders import SERVED

# Order events that show a serving robot has taken the order's food from the pass.
LEFT_THE_PASS = frozenset({'delivery.progress', 'delivery.arrived'})


def stats(values: list[float]) -> dict[str, float | int | None]:
    """n, mean, p50, p95 (nearest rank) and max, rounded to 0.1."""
    if not values:
        return {'n': 0, 'mean': None, 'p50': None, 'p95': None, 'max': None}
    ordered = sorted(values)

    def rank(q: float) -> float:
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]

    return {
        'n': len(ordered),
        'mean': round(sum(ordered) / len(ordered), 1),
        'p50': round(rank(0.5), 1),
        'p95': round(rank(0.95), 1),
        'max': round(ordered[-1], 1),
    }


def route_m(cfg: RestaurantConfig, robot: ServingRobot, tables: list[str], back: bool) -> float:
    """Floor-graph length of one trip: dock → pass → each table → (pass, if food came back)
    → dock, the route the serving robot drives."""
    floor = cfg.floor
    stops = [robot.dock, floor.pass_point.id]
    stops += [cfg.table_by_id[t].waypoint for t in tables]
    stops += [floor.pass_point.id, robot.dock] if back else [robot.dock]
    return sum(floor.length(a, b) for a, b in itertools.pairwise(stops))


@dataclass
class _Order:
    order_id: str
    table_id: str
    status: str
    created_s: float
    dishes: list[tuple[str, int]]
    events: list[dict[str, Any]] = field(default_factory=list)

    def first(self, kind: str) -> dict[str, Any] | None:
        return next((e for e in self.events if e['type'] == kind), None)


async def _load_orders(r: Redis, clock: SimClock, parties: list[Party]) -> list[_Order]:
    out = []
    for p in parties:
        if p.order_id is None:
            continue
        record = await order_store.get(r, p.order_id)
        if record is None:
            continue
        order = _Order(
            p.order_id,
            record.table_id,
            record.status,
            clock.at_ms(record.created_at),
            [(line['dish_id'], int(line['quantity'])) for line in record.lines],
        )
        for event in await order_store.timeline(r, p.order_id):
            event['sim_s'] = clock.at_ms(event['at'])
            order.events.append(event)
        out.append(order)
    return out


def _lower_bound_s(cfg: RestaurantConfig, order: _Order) -> float:
    """As if robots and stations were unlimited: the longest dish, then straight to the table
    at the fastest serving robot's top speed."""
    floor = cfg.floor
    cook_s = max(cfg.dish_by_id[d].cook_time_s for d, _ in order.dishes)
    waypoint = cfg.table_by_id[order.table_id].waypoint
    travel_m = floor.length(floor.pass_point.id, waypoint)
    return cook_s + travel_m / max(r.speed_mps for r in cfg.serving_robots)


@dataclass
class _Cook:
    dishes_cooked: int = 0
    busy_slot_s: float = 0.0


@dataclass
class _Serve:
    trips: int = 0
    trays: int = 0
    orders_carried: int = 0
    busy_s: float = 0.0
    distance_m: float = 0.0


def _cooking_robots(
    cfg: RestaurantConfig, orders: list[_Order], span_s: float
) -> dict[str, dict[str, Any]]:
    """Dishes cooked and slot utilization (cooking → cooked time over capacity × span)."""
    started: dict[str, float] = {}
    acc = {r.id: _Cook() for r in cfg.cooking_robots}
    for order in orders:
        for e in order.events:
            if e['type'] == 'dish.cooking':
                started[e['data']['job_id']] = e['sim_s']
            elif e['type'] == 'dish.cooked' and e['data'].get('by') in acc:
                cook = acc[e['data']['by']]
                cook.dishes_cooked += 1
                if e['data']['job_id'] in started:
                    cook.busy_slot_s += e['sim_s'] - started[e['data']['job_id']]
    return {
        r.id: {
            'kind': 'cooking',
            'capacity': r.capacity,
            'dishes_cooked': acc[r.id].dishes_cooked,
            'busy_slot_s': round(acc[r.id].busy_slot_s, 1),
            'utilization': round(acc[r.id].busy_slot_s / (r.capacity * span_s), 3),
        }
        for r in cfg.cooking_robots
    }


async def _serving_robots(
    r: Redis, cfg: RestaurantConfig, clock: SimClock, orders: list[_Order], span_s: float
) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """Per serving robot and per trip: trips, trays, busy time (trip created → finished, as
    the dispatcher recorded it) and the distance of each trip's route."""
    trip_ids = sorted(
        {e['data']['trip_id'] for o in orders for e in o.events if e['type'] == 'delivery.started'}
    )
    robots = {s.id: s for s in cfg.serving_robots}
    acc = {s.id: _Serve() for s in cfg.serving_robots}
    trips = []
    for trip_id in trip_ids:
        t = await trip_store.get(r, trip_id)
        if t is None:
            continue
        stops = t.stop_list()
        tables = [s.table_id for s in stops]
        start_s = clock.at_ms(t.created_at)
        end_s = clock.at_ms(t.finished_at) if t.finished_at else span_s
        back = (t.outcome or 'completed') != 'completed'
        trip = {
            'trip_id': trip_id,
            'robot_id': t.robot_id,
            'tables': tables,
            'trays': len({tray for s in stops for tray in s.trays}),
            'orders': sum(len(s.order_ids) for s in stops),
            'outcome': t.outcome or t.status,
            'duration_s': round(end_s - start_s, 1),
            'distance_m': round(route_m(cfg, robots[t.robot_id], tables, back), 1),
        }
        trips.append(trip)
        serve = acc[t.robot_id]
        serve.trips += 1
        serve.trays += trip['trays']
        serve.orders_carried += trip['orders']
        serve.busy_s += end_s - start_s
        serve.distance_m += trip['distance_m']
    out = {
        rid: {
            'kind': 'serving',
            'trips': a.trips,
            'trays': a.trays,
            'orders_carried': a.orders_carried,
            'busy_s': round(a.busy_s, 1),
            'utilization': round(a.busy_s / span_s, 3),
            'distance_m': round(a.distance_m, 1),
        }
        for rid, a in acc.items()
    }
    return out, trips


async def charging_time(
    r: Redis, cfg: RestaurantConfig, clock: SimClock, span_s: float
) -> dict[str, dict[str, float | int]]:
    """Per serving robot: how often and how long (simulated seconds) it was out of service to
    charge, from its mode changes on the feed (`robot.state`)."""
    since: dict[str, float] = {}
    out = {s.id: {'charges': 0, 'charging_s': 0.0} for s in cfg.serving_robots}
    for e in await feed.events_of(r, 'robot.state', int(clock.start * 1000)):
        robot_id, mode = e.payload().get('robot_id'), e.payload().get('mode')
        if robot_id not in out:
            continue
        at = clock.at_ms(e.at)
        if mode == 'charging' and robot_id not in since:
            since[robot_id] = at
            out[robot_id]['charges'] += 1
        elif mode != 'charging' and robot_id in since:
            out[robot_id]['charging_s'] += at - since.pop(robot_id)
    for robot_id, at in since.items():
        out[robot_id]['charging_s'] += max(0.0, span_s - at)
    return {
        rid: {'charges': c['charges'], 'charging_s': round(c['charging_s'], 1)}
        for rid, c in out.items()
    }


async def build_report(
    r: Redis,
    cfg: RestaurantConfig,
    scenario: Scenario,
    clock: SimClock,
    parties: list[Party],
    lags: dict[str, list[float]],
    collisions: dict[str, Any],
    traffic: dict[str, Any] | None,
    wall_s: float,
) -> dict[str, Any]:
    orders = await _load_orders(r, clock, parties)
    served = [o for o in orders if o.status == SERVED and o.first('delivery.served')]
    span_s = max([clock.now()] + [e['sim_s'] for o in orders for e in o.events])
    tickets, bounds, dispatch_waits, pass_waits = [], [], [], []
    left_pass = _left_pass(orders)
    for o in served:
        served_ev = o.first('delivery.served')
        assert served_ev is not None
        tickets.append(served_ev['sim_s'] - o.created_s)
        bounds.append(_lower_bound_s(cfg, o))
    for o in orders:
        ready, started = o.first('order.ready'), o.first('delivery.started')
        if ready and started:
            dispatch_waits.append(started['sim_s'] - ready['sim_s'])
        left = left_pass.get(o.order_id)
        if ready and left is not None:
            pass_waits.append(left - ready['sim_s'])
    serving, trips = await _serving_robots(r, cfg, clock, orders, span_s)
    for robot_id, charging in (await charging_time(r, cfg, clock, span_s)).items():
        serving[robot_id] |= charging
    ticket, bound = stats(tickets), stats(bounds)
    peak = max(w.parties_per_hour for w in scenario.arrivals)
    pickup_s = (scenario.pickup_after_s.min + scenario.pickup_after_s.max) / 2
    capacity = capacity_bound(
        [
            OrderSpec(
                o.order_id,
                o.created_s,
                o.table_id,
                tuple(
                    (cfg.dish_by_id[d].station, cfg.dish_by_id[d].cook_time_s)
                    for d, n in o.dishes
                    for _ in range(n)
                ),
                pickup_s,
            )
            for o in served
        ],
        cfg,
    ).mean_s
    return {
        'scenario': scenario.name,
        'time_scale': clock.speed,
        'simulated_s': round(span_s, 1),
        'wall_s': round(wall_s, 1),
        'parties': {
            'arrived': len(parties),
            'seated': sum(p.table_id is not None for p in parties),
            'turned_away': sum(p.turned_away for p in parties),
            'door_wait_s': stats(
                [p.seated_s - p.arrive_s for p in parties if p.seated_s is not None]
            ),
            'pickups': sum(p.pickups for p in parties),
            'pickups_refused': sum(p.pickups_refused for p in parties),
            'errors': [f'party {p.party_id}: {p.error}' for p in parties if p.error],
        },
        'orders': {
            'placed': len(orders),
            'served': len(served),
            'dishes': sum(n for o in orders for _, n in o.dishes),
            'dishes_served': sum(n for o in served for _, n in o.dishes),
            'unserved': {o.order_id: o.status for o in orders if o not in served},
        },
        'ticket_s': ticket,
        'dispatch_wait_s': stats(dispatch_waits),
        'pass_wait_s': stats(pass_waits),
        'lower_bound_ticket_s': bound,
        'ticket_to_lower_bound': (
            round(ticket['mean'] / bound['mean'], 2) if ticket['mean'] and bound['mean'] else None
        ),
        'capacity_bound_ticket_s': round(capacity, 1) if served else None,
        'ticket_to_capacity_bound': (
            round(ticket['mean'] / capacity, 2) if ticket['mean'] and capacity else None
        ),
        **_kitchen(cfg, orders, left_pass, clock),
        'robots': {**_cooking_robots(cfg, orders, span_s), **serving},
        'trips': {
            'count': len(trips),
            'trays_per_trip': round(sum(t['trays'] for t in trips) / len(trips), 2)
            if trips
            else None,
            'orders_per_trip': round(sum(t['orders'] for t in trips) / len(trips), 2)
            if trips
            else None,
            'distance_m': round(sum(t['distance_m'] for t in trips), 1),
            'list': trips,
        },
        'bill': await bill_report(r, clock, parties, cfg, stats),
        'collisions': collisions,
        # The traffic controller's figures (simulated seconds); None: traffic control off.
        'traffic': traffic,
        'scheduling_jitter_s': {action: stats(v) for action, v in sorted(lags.items())},
        'offered_load_at_peak': {
            'parties_per_hour': peak,
            'groups': [
                {
                    'stations': list(g.stations),
                    'robots': list(g.robots),
                    'slots': g.slots,
                    'utilization': round(g.utilization, 3),
                }
                for g in offered_load(cfg, scenario, peak)
            ],
        },
    }


def _left_pass(orders: list[_Order]) -> dict[str, float]:
    """Order id -> when the robot of its first trip left the pass with it (simulated s): once
    it heads for a table (progress) or is at one (arrived) — for any stop of the trip, as it
    carries every stop's food from the pass; the robots' feedback (>= 5 Hz wall) sets the
    resolution."""
    departures: dict[str, float] = {}
    for o in orders:
        for e in o.events:
            trip_id = e['data'].get('trip_id')
            if e['type'] in LEFT_THE_PASS and trip_id:
                departures[trip_id] = min(departures.get(trip_id, math.inf), e['sim_s'])
    out = {}
    for o in orders:
        started = o.first('delivery.started')
        left = departures.get(started['data'].get('trip_id', '')) if started else None
        if left is not None:
            out[o.order_id] = left
    return out


def _kitchen(
    cfg: RestaurantConfig, orders: list[_Order], left_pass: dict[str, float], clock: SimClock
) -> dict[str, Any]:
    """Freshness, start waits per station and the diners' ETAs.

    - `dish_hold_s`: a cooked dish until a robot leaves the pass with its order (`left_pass`,
      order id -> when: `_left_pass`);
    - `station_start_wait_s`: an order placed until each of its dishes starts cooking;
    - `eta_error_s`: the first ETA the diner was given vs the robot arriving at the table.
    """
    holds: list[float] = []
    starts: dict[str, list[float]] = {s.id: [] for s in cfg.stations}
    errors: list[float] = []
    for o in orders:
        left = left_pass.get(o.order_id)
        arrived = o.first('delivery.arrived')
        eta = o.first('order.eta')
        for e in o.events:
            dish = cfg.dish_by_id.get(e['data'].get('dish_id', ''))
            if e['type'] == 'dish.cooked' and left is not None:
                holds.append(left - e['sim_s'])
            elif e['type'] == 'dish.cooking' and dish is not None:
                starts[dish.station].append(e['sim_s'] - o.created_s)
        if eta is not None and arrived is not None:
            errors.append(abs(clock.at_ms(eta['data']['eta_at']) - arrived['sim_s']))
    error = stats(errors)
    return {
        'dish_hold_s': stats(holds),
        'station_start_wait_s': {station: stats(v) for station, v in starts.items() if v},
        'eta_error_s': {'mae': error['mean'], 'p95': error['p95'], 'n': error['n']},
    }


def summary(report: dict[str, Any]) -> str:
    """A few lines for a person: what happened, how fast, where the time went."""
    o, t, lb = report['orders'], report['ticket_s'], report['lower_bound_ticket_s']
    pw, trips = report['pass_wait_s'], report['trips']
    robots = report['robots']
    jitter = max((s['max'] or 0.0 for s in report['scheduling_jitter_s'].values()), default=0.0)
    collisions = report['collisions']
    lines = [
        f'{report["scenario"]}: {report["simulated_s"] / 60:.0f} simulated min in '
        f'{report["wall_s"]:.0f} s wall (time scale {report["time_scale"]:g})',
        f'  parties {report["parties"]["arrived"]}, seated {report["parties"]["seated"]}, '
        f'turned away {report["parties"]["turned_away"]}',
        f'  orders {o["placed"]} placed, {o["served"]} served; dishes {o["dishes"]}',
    ]
    if t['n']:
        lines.append(
            f'  ticket (order → served) mean {t["mean"]:.0f} s, p50 {t["p50"]:.0f} s, '
            f'p95 {t["p95"]:.0f} s, max {t["max"]:.0f} s; lower bound mean {lb["mean"]:.0f} s '
            f'(×{report["ticket_to_lower_bound"]})'
        )
    if t['n'] and report.get('capacity_bound_ticket_s'):
        eta, hold = report['eta_error_s'], report['dish_hold_s']
        lines.append(
            f'  policy {report.get("policy") or "?"}: capacity bound mean '
            f'{report["capacity_bound_ticket_s"]:.0f} s (×{report["ticket_to_capacity_bound"]}); '
            f'dish hold mean {hold["mean"] or 0:.0f} s; ETA error mean {eta["mae"] or 0:.0f} s, '
            f'p95 {eta["p95"] or 0:.0f} s'
        )
    if pw['n']:
        dw = report['dispatch_wait_s']
        lines.append(
            f'  wait at the pass (ready → on a robot) mean {pw["mean"]:.0f} s, '
            f'p95 {pw["p95"]:.0f} s; of which until a robot sets off mean {dw["mean"]:.0f} s'
        )
    lines.append(
        f'  trips {trips["count"]}, trays/trip {trips["trays_per_trip"]}, '
        f'distance {trips["distance_m"]:.0f} m'
    )
    lines.append(
        '  utilization ' + ', '.join(f'{rid} {r["utilization"]:.0%}' for rid, r in robots.items())
    )
    lines.append(
        '  charging '
        + ', '.join(
            f'{rid} {r["charging_s"]:.0f} s ({r["charges"]}x)'
            for rid, r in robots.items()
            if 'charging_s' in r
        )
    )
    lines.append(f'  collisions {collisions["count"]} (from the {collisions["source"]})')
    lines.append(traffic_summary(report['traffic']))
    lines += bill_summary(report)
    lines.append(f'  diner scheduling jitter up to {jitter:.1f} simulated s')
    return '\n'.join(lines)


def traffic_summary(traffic: dict[str, Any] | None) -> str:
    if traffic is None:
        return '  traffic control off'
    waits = traffic['wait_s']
    per_robot = ', '.join(
        f'{rid} {r["wait_s"]:.0f} s ({r["waits"]}x)' for rid, r in traffic['robots'].items()
    )
    return (
        f'  traffic: waited mean {waits["mean"]:.0f} s, p95 {waits["p95"]:.0f} s, total '
        f'{waits["total"]:.0f} s ({per_robot}); deadlocks {traffic["deadlocks"]}, '
        f'detours {traffic["replans"]}'
    )
