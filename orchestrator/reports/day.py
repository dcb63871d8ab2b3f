"""One day's report from the archive, as sections: each a table (columns, rows) with the chart
that shows it. The console's Reports tab draws them, its CSV links download them, and
`robodine report` writes both to files (render.py).

Definitions: an order's **ticket** runs from intake to served; a dish's from intake to cooked
(by its station); **time at the pass** from the order's last dish cooked to a robot taking it;
**covers** are the guests of the visits opened that hour (party size given at seating or on
the diner page; a visit whose party gave none counts 1); **revenue** is the total of the orders
served, by the hour they were placed. **Robot utilisation**: a cooking robot's dishes (claimed
to cooked) over its capacity times the hours the kitchen had orders; a serving robot's trips
(out to back) over those hours. **Stock used** is what sales took less what cancelled dishes
gave back.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.engine import Connection

from orchestrator.archive import schema
from orchestrator.archive.db import local_time
from orchestrator.config import RestaurantConfig
from orchestrator.recipes import kitchen
from orchestrator.reports import forecast as fc
from orchestrator.texts import Said, Value, english


@dataclass(frozen=True)
class Section:
    """Its title is `reports.titles.{id}` of the console's table with `title_args`, its note a
    text of that table too: in English here (the CSV and the page `robodine report` writes),
    in the operator's language on the console."""

    id: str
    columns: list[str]
    rows: list[list[Any]]
    # {'type': 'bar' | 'stacked' | 'line' | 'hbar', 'x': column, 'series': [columns],
    # 'unit': label}; None: a table only.
    chart: dict[str, Any] | None = None
    title_args: Mapping[str, Value] = field(default_factory=dict)
    note: Said | None = None

    @property
    def title(self) -> str:
        return english(f'reports.titles.{self.id}', self.title_args)

    def view(self) -> dict[str, Any]:
        note = self.note.view() if self.note else {'said': '', 'args': {}}
        return {
            'id': self.id,
            'title': self.title,
            'title_args': dict(self.title_args),
            'columns': self.columns,
            'rows': self.rows,
            'chart': self.chart,
            'note': str(self.note or ''),
            'note_said': note['said'],
            'note_args': note['args'],
        }


@dataclass
class Report:
    date: str
    currency: str
    demo: bool
    sections: list[Section] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        return {
            'date': self.date,
            'weekday': date.fromisoformat(self.date).strftime('%A'),
            'currency': self.currency,
            'demo': self.demo,
            'sections': [s.view() for s in self.sections],
        }

    def section(self, section_id: str) -> Section | None:
        return next((s for s in self.sections if s.id == section_id), None)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _s(ms: float | None) -> float | None:
    return None if ms is None else round(ms / 1000, 1)


def _rows(conn: Connection, table: Any, day: str) -> list[Any]:
    return list(conn.execute(select(table).where(table.c.day == day)))


def build(engine: Engine, cfg: RestaurantConfig, day: str) -> Report:
    date.fromisoformat(day)  # ValueError for a malformed date
    with engine.connect() as conn:
        orders = _rows(conn, schema.orders, day)
        dishes = _rows(conn, schema.dishes, day)
        trips = _rows(conn, schema.trips, day)
        sessions = _rows(conn, schema.sessions, day)
        moves = _rows(conn, schema.stock_moves, day)
        events = _rows(conn, schema.menu_events, day)
        f = fc.forecast(conn, day)
        history_demo = bool(
            f.based_on
            and conn.execute(
                select(schema.orders.c.id)
                .where(schema.orders.c.day.in_(f.based_on), schema.orders.c.demo)
                .limit(1)
            ).first()
        )
        tomorrow = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
        f_next = fc.forecast(conn, tomorrow)
        acc = fc.accuracy(conn, tomorrow)
    demo = history_demo or any(x.demo for x in (*orders, *dishes, *moves))
    report = Report(day, cfg.restaurant.currency, demo)
    hours = sorted({o.hour for o in orders} | {d.hour for d in dishes})
    stations = [s.id for s in cfg.stations]
    report.sections += [
        _hourly(orders, sessions, hours),
        _dishes_by_hour(dishes, hours, stations),
        _ticket_by_hour(orders, hours),
        _ticket_by_station(dishes, stations),
        _pass(orders, hours),
        _robots(cfg, dishes, trips, hours),
        _menu_events(events),
        _waste(cfg, moves),
        _stock_vs_forecast(cfg, moves, f),
        _forecast_section(f_next, acc),
        _prep_section(cfg, f_next, acc),
    ]
    return report


def _hourly(orders: list[Any], sessions: list[Any], hours: list[int]) -> Section:
    n: dict[int, int] = defaultdict(int)
    revenue: dict[int, int] = defaultdict(int)
    covers: dict[int, int] = defaultdict(int)
    for o in orders:
        n[o.hour] += 1
        if o.status == 'served':
            revenue[o.hour] += o.total
    for s in sessions:
        covers[s.hour] += s.party_size or 1
    all_hours = sorted(set(hours) | set(covers))
    return Section(
        'hourly',
        ['hour', 'orders', 'covers', 'revenue'],
        [[h, n[h], covers[h], revenue[h]] for h in all_hours],
        {'type': 'bar', 'x': 'hour', 'series': ['orders', 'covers'], 'line': 'revenue'},
    )


def _dishes_by_hour(dishes: list[Any], hours: list[int], stations: list[str]) -> Section:
    count: dict[tuple[int, str], int] = defaultdict(int)
    for d in dishes:
        if d.status != 'withdrawn':
            count[(d.hour, d.station)] += 1
    return Section(
        'dishes',
        ['hour', *stations, 'total'],
        [
            [h, *(count[(h, s)] for s in stations), sum(count[(h, s)] for s in stations)]
            for h in hours
        ],
        {'type': 'stacked', 'x': 'hour', 'series': stations},
    )


def _ticket_by_hour(orders: list[Any], hours: list[int]) -> Section:
    times: dict[int, list[float]] = defaultdict(list)
    for o in orders:
        if o.served_at:
            times[o.hour].append(o.served_at - o.created_at)
    return Section(
        'tickets',
        ['hour', 'orders', 'p50_s', 'p95_s'],
        [
            [h, len(times[h]), _s(percentile(times[h], 0.5)), _s(percentile(times[h], 0.95))]
            for h in hours
        ],
        {'type': 'line', 'x': 'hour', 'series': ['p50_s', 'p95_s'], 'unit': 's'},
    )


def _ticket_by_station(dishes: list[Any], stations: list[str]) -> Section:
    times: dict[str, list[float]] = defaultdict(list)
    for d in dishes:
        if d.cooked_at:
            times[d.station].append(d.cooked_at - d.ordered_at)
    return Section(
        'stations',
        ['station', 'dishes', 'p50_s', 'p95_s'],
        [
            [s, len(times[s]), _s(percentile(times[s], 0.5)), _s(percentile(times[s], 0.95))]
            for s in stations
        ],
        {'type': 'hbar', 'x': 'station', 'series': ['p50_s', 'p95_s'], 'unit': 's'},
    )


def _pass(orders: list[Any], hours: list[int]) -> Section:
    waits: dict[int, list[float]] = defaultdict(list)
    for o in orders:
        if o.ready_at and o.left_at:
            waits[o.hour].append(o.left_at - o.ready_at)
    return Section(
        'pass',
        ['hour', 'orders', 'p50_s', 'p95_s'],
        [
            [h, len(waits[h]), _s(percentile(waits[h], 0.5)), _s(percentile(waits[h], 0.95))]
            for h in hours
        ],
        {'type': 'line', 'x': 'hour', 'series': ['p50_s', 'p95_s'], 'unit': 's'},
    )


def _robots(
    cfg: RestaurantConfig, dishes: list[Any], trips: list[Any], hours: list[int]
) -> Section:
    open_s = 3600 * len(hours)
    busy: dict[str, float] = defaultdict(float)
    for d in dishes:
        if d.robot and d.started_at and d.cooked_at > d.started_at:
            busy[d.robot] += (d.cooked_at - d.started_at) / 1000
    for t in trips:
        if t.finished_at > t.created_at:
            busy[t.robot_id] += (t.finished_at - t.created_at) / 1000
    rows: list[list[Any]] = []
    for r in cfg.cooking_robots:
        share = busy[r.id] / (open_s * r.capacity) if open_s else 0.0
        rows.append([r.id, 'cooking', round(busy[r.id]), round(100 * share, 1)])
    for sr in cfg.serving_robots:
        share = busy[sr.id] / open_s if open_s else 0.0
        rows.append([sr.id, 'serving', round(busy[sr.id]), round(100 * share, 1)])
    return Section(
        'robots',
        ['robot', 'kind', 'busy_s', 'utilisation_pct'],
        rows,
        {'type': 'hbar', 'x': 'robot', 'series': ['utilisation_pct'], 'unit': '%'},
        note=Said('reports.notes.hours_with_orders', {'n': len(hours)}),
    )


def _menu_events(events: list[Any]) -> Section:
    return Section(
        'menu',
        ['time', 'dish', 'change', 'source', 'by', 'why'],
        [
            [local_time(e.at), e.dish_id, '86' if e.soldout else 'back', e.source, e.by, e.why]
            for e in sorted(events, key=lambda e: e.at)
        ],
    )


def _waste(cfg: RestaurantConfig, moves: Iterable[Any]) -> Section:
    k = kitchen(cfg)
    rows = [
        [local_time(m.at), m.dish_id, m.ingredient, m.amount, _unit(k, m.ingredient), m.by, m.why]
        for m in sorted(moves, key=lambda m: (m.at, m.ingredient))
        if m.kind == 'waste'
    ]
    return Section('waste', ['time', 'dish', 'ingredient', 'amount', 'unit', 'by', 'why'], rows)


def _unit(k: Any, ingredient: str) -> str:
    return str(k.unit(ingredient)) if ingredient in k.ingredients else ''


def _stock_vs_forecast(cfg: RestaurantConfig, moves: Iterable[Any], f: fc.Forecast) -> Section:
    k = kitchen(cfg)
    used: dict[str, int] = defaultdict(int)
    for m in moves:
        if m.kind in ('sale', 'return'):
            used[m.ingredient] -= m.amount
    expected = {p.ingredient: p.need for p in fc.prep_list(cfg, f)}
    rows = [
        [i, k.unit(i), used.get(i, 0), expected.get(i, 0), used.get(i, 0) - expected.get(i, 0)]
        for i in k.ingredients
        if used.get(i) or expected.get(i)
    ]
    return Section(
        'stock',
        ['ingredient', 'unit', 'used', 'forecast', 'difference'],
        rows,
        {'type': 'hbar', 'x': 'ingredient', 'series': ['used', 'forecast']},
        note=Said('reports.notes.forecast_from', {'n': len(f.based_on), **fc.weekday(f.day)})
        if f.based_on
        else Said('reports.notes.no_history'),
    )


def _forecast_section(f: fc.Forecast, acc: fc.Accuracy) -> Section:
    hours = f.hours()
    dishes = sorted(f.per_hour, key=lambda d: -f.total(d))
    per_hour = [round(sum(f.per_hour[d].get(h, 0.0) for d in dishes), 1) for h in hours]
    return Section(
        'forecast',
        ['hour', 'dishes'],
        [[h, n] for h, n in zip(hours, per_hour, strict=True)],
        {'type': 'bar', 'x': 'hour', 'series': ['dishes']},
        title_args={'day': f.day, **fc.weekday(f.day)},
        note=acc.said(),
    )


def _prep_section(cfg: RestaurantConfig, f: fc.Forecast, acc: fc.Accuracy) -> Section:
    return Section(
        'prep',
        ['ingredient', 'unit', 'need'],
        [[p.ingredient, p.unit, p.need] for p in fc.prep_list(cfg, f)],
        title_args={'day': f.day},
        note=acc.said(),
    )
