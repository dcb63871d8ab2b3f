"""Generated history for the demo, so that reports and the prep forecast have weeks to show.

**Demo data**: every row has `demo = true` and an id starting with `demo-`; reports say so
when they include any. Deterministic (a seeded generator, ids by day), so seeding twice stores
it once. The shape is a plausible restaurant, not a measurement: lunch (11-14) and dinner
(17-21) peaks, busier Fridays and Saturdays, dish popularity fixed per dish, cook times from the
config with some spread, a serving trip per order, one payment per visit, the stock each dish
takes (and a morning restock), now and then a cancelled dish (given back or wasted) and the
mackerel selling out on busy evenings.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from orchestrator.archive import schema
from orchestrator.archive.db import insert_rows, when
from orchestrator.config import RestaurantConfig
from orchestrator.recipes import kitchen

# Mean orders per hour of the day (local time) on an ordinary weekday.
HOURLY = {11: 6.0, 12: 11.0, 13: 7.0, 14: 2.0, 17: 4.0, 18: 9.0, 19: 11.0, 20: 6.0, 21: 2.0}
# Monday = 0.
WEEKDAY = {0: 0.8, 1: 0.85, 2: 0.9, 3: 0.95, 4: 1.25, 5: 1.4, 6: 1.1}
SEED = 13
RESTOCK_HOUR = 10


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


class _Day:
    """The rows of one generated day."""

    def __init__(self, cfg: RestaurantConfig, day: date, rng: random.Random) -> None:
        self.cfg, self.day, self.rng = cfg, day, rng
        self.kitchen = kitchen(cfg)
        self.rows: dict[Any, list[dict[str, Any]]] = {
            t: []
            for t in (
                schema.orders,
                schema.dishes,
                schema.trips,
                schema.payments,
                schema.sessions,
                schema.stock_moves,
                schema.menu_events,
            )
        }
        self.robots = {
            s.id: [r for r in cfg.cooking_robots if s.id in r.stations] for s in cfg.stations
        }
        self.seq = 0
        # Popularity: a fixed weight per dish (the same every day).
        weights = random.Random(SEED).choices(range(1, 10), k=len(cfg.dishes))
        self.dishes = list(zip(cfg.dishes, weights, strict=True))

    def _id(self, kind: str) -> str:
        self.seq += 1
        return f'demo-{self.day.isoformat()}-{kind}{self.seq:05d}'

    def _move(self, kind: str, at: int, items: dict[str, int], **extra: Any) -> None:
        entry = f'{at}-{self.seq}'
        self.seq += 1
        for ing, amount in items.items():
            self.rows[schema.stock_moves].append(
                {
                    'entry_id': entry,
                    'ingredient': ing,
                    'kind': kind,
                    'amount': amount,
                    'at': at,
                    'by': extra.get('by', ''),
                    'why': extra.get('why', ''),
                    'order_id': extra.get('order_id', ''),
                    'job_id': extra.get('job_id', ''),
                    'dish_id': extra.get('dish_id', ''),
                    **when(at, True),
                }
            )

    def generate(self) -> None:
        rng = self.rng
        morning = datetime.combine(self.day, datetime.min.time()).replace(hour=RESTOCK_HOUR)
        par = {i: self.kitchen.amount(i, 'par') for i in self.kitchen.ingredients}
        self._move('restock', _ms(morning), par, by='demo', why='morning delivery (demo)')
        mackerel_left = par.get('mackerel', 0)
        factor = WEEKDAY[self.day.weekday()]
        for hour, mean in HOURLY.items():
            for _ in range(_poisson(rng, mean * factor)):
                start = datetime.combine(self.day, datetime.min.time()).replace(
                    hour=hour, minute=rng.randrange(60), second=rng.randrange(60)
                )
                mackerel_left = self._order(_ms(start), mackerel_left)

    def _order(self, at: int, mackerel_left: int) -> int:
        rng = self.rng
        table = rng.choice(self.cfg.tables)
        party = rng.randint(1, table.seats)
        order_id, session_id = self._id('o'), self._id('s')
        picks = rng.choices(
            [d for d, _ in self.dishes], [w for _, w in self.dishes], k=party + rng.randint(0, 2)
        )
        if mackerel_left <= 0:
            picks = [d for d in picks if d.id != 'grilled-mackerel'] or [self.cfg.dishes[0]]
        total, cooked_last, waste = 0, at, None
        for n, dish in enumerate(picks):
            job_id = f'{order_id}-{n:02d}-00'
            robot = rng.choice(self.robots[dish.station])
            started = at + rng.randint(5, 240) * 1000
            cooked = started + int(dish.cook_time_s * rng.uniform(0.9, 1.2) * 1000)
            status = 'cooked'
            if rng.random() < 0.015:
                status = rng.choice(['withdrawn', 'wasted'])
            uses = self.kitchen.uses(dish.id)
            self._move(
                'sale', at, {i: -a for i, a in uses.items()}, order_id=order_id, job_id=job_id
            )
            if dish.id == 'grilled-mackerel':
                mackerel_left -= 1
                if mackerel_left == 0:
                    self._sold_out(cooked, dish.id)
            if status == 'withdrawn':
                self._move(
                    'return',
                    cooked,
                    uses,
                    by='demo',
                    why='cancelled',
                    job_id=job_id,
                    dish_id=dish.id,
                    order_id=order_id,
                )
            elif status == 'wasted':
                waste = (cooked, dish.id, uses, job_id)
            self.rows[schema.dishes].append(
                {
                    'job_id': job_id,
                    'order_id': order_id,
                    'dish_id': dish.id,
                    'station': dish.station,
                    'options': '',
                    'status': status,
                    'robot': robot.id,
                    'ordered_at': at,
                    'started_at': started if status != 'withdrawn' else 0,
                    'cooked_at': cooked if status == 'cooked' else 0,
                    'cook_time_s': round(dish.cook_time_s),
                    **when(at, True),
                }
            )
            if status == 'cooked':
                total += dish.price
                cooked_last = max(cooked_last, cooked)
        if waste is not None:
            wat, dish_id, uses, job_id = waste
            self._move(
                'waste',
                wat,
                uses,
                by='demo',
                why='cancelled while cooking',
                job_id=job_id,
                dish_id=dish_id,
                order_id=order_id,
            )
        left = cooked_last + rng.randint(5, 90) * 1000
        served = left + rng.randint(30, 120) * 1000
        serving = rng.choice(self.cfg.serving_robots)
        self.rows[schema.trips].append(
            {
                'trip_id': self._id('t'),
                'robot_id': serving.id,
                'status': 'done',
                'outcome': 'done',
                'orders': 1,
                'stops': 1,
                'created_at': left,
                'finished_at': served + rng.randint(20, 60) * 1000,
                **when(left, True),
            }
        )
        self.rows[schema.orders].append(
            {
                'id': order_id,
                'table_id': table.id,
                'session_id': session_id,
                'status': 'served',
                'total': total,
                'currency': self.cfg.restaurant.currency,
                'dishes': len(picks),
                'created_at': at,
                'ready_at': cooked_last,
                'left_at': left,
                'served_at': served,
                'finished_at': served,
                **when(at, True),
            }
        )
        closed = served + rng.randint(15, 45) * 60_000
        self.rows[schema.sessions].append(
            {
                'id': session_id,
                'table_id': table.id,
                'party_size': party,
                'opened_at': at,
                'closed_at': closed,
                'orders': 1,
                'total': total,
                'paid_total': total,
                **when(at, True),
            }
        )
        self.rows[schema.payments].append(
            {
                'id': self._id('p'),
                'session_id': session_id,
                'table_id': table.id,
                'amount': total,
                'currency': self.cfg.restaurant.currency,
                'status': 'paid',
                'provider': 'demo',
                'created_at': closed - 60_000,
                'paid_at': closed - 30_000,
                'refunded_at': 0,
                **when(closed, True),
            }
        )
        return mackerel_left

    def _sold_out(self, at: int, dish_id: str) -> None:
        self._move('out', at, {'mackerel': 0}, by='stock', why='mackerel', dish_id=dish_id)
        self.rows[schema.menu_events].append(
            {
                'id': self._id('m'),
                'at': at,
                'dish_id': dish_id,
                'soldout': True,
                'source': 'stock',
                'by': 'stock',
                'why': 'mackerel ran out',
                **when(at, True),
            }
        )


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method: fine for the small means of one hour.
    limit, k, p = pow(2.718281828459045, -mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def seed(
    engine: Engine,
    cfg: RestaurantConfig,
    weeks: int = 4,
    force: bool = False,
    today: date | None = None,
) -> int:
    """Write `weeks` of demo history ending yesterday; returns how many orders. Skipped (0)
    when the archive already holds orders, unless `force`."""
    with engine.connect() as conn:
        if not force and conn.execute(select(func.count()).select_from(schema.orders)).scalar():
            return 0
    today = today or date.today()
    orders = 0
    with engine.begin() as conn:  # one transaction: all of it or nothing
        for back in range(weeks * 7, 0, -1):
            day = today - timedelta(days=back)
            gen = _Day(cfg, day, random.Random(f'{SEED}-{day.isoformat()}'))
            gen.generate()
            for table, rows in gen.rows.items():
                insert_rows(conn, table, rows)
            orders += len(gen.rows[schema.orders])
    return orders
