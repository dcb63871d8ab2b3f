"""Expected dishes per hour for a day, from the same weekday in the archive's history, and the
ingredients that takes (the prep list).

The forecast is a seasonal average: for each hour and dish, the mean count over the last
`WEEKS` same weekdays the archive has (days with no orders at all — closed — are left out).
How good it is, `accuracy`: the same forecast made for each of the last `BACKTEST` such days
from the weeks before it, compared with what was sold: WAPE (sum of absolute errors over sum
sold) per dish and hour, and per dish over the day (what prep needs).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from orchestrator.archive import schema
from orchestrator.config import RestaurantConfig
from orchestrator.recipes import kitchen
from orchestrator.texts import Said

WEEKS = 6
BACKTEST = 4
# dish -> hour -> count
Counts = dict[str, dict[int, float]]


@dataclass(frozen=True)
class Forecast:
    day: str
    # The same weekdays it averages over (newest first).
    based_on: list[str]
    per_hour: Counts

    def total(self, dish_id: str) -> float:
        return sum(self.per_hour.get(dish_id, {}).values())

    def hours(self) -> list[int]:
        return sorted({h for by_hour in self.per_hour.values() for h in by_hour})


def actual(conn: Connection, day: str) -> Counts:
    """Dishes sold (not withdrawn) per dish and hour of `day`."""
    d = schema.dishes.c
    rows = conn.execute(
        select(d.dish_id, d.hour, func.count())
        .where(d.day == day, d.status != 'withdrawn')
        .group_by(d.dish_id, d.hour)
    )
    out: Counts = defaultdict(dict)
    for dish_id, hour, n in rows:
        out[str(dish_id)][int(hour)] = float(n)
    return dict(out)


def _open_days(conn: Connection, days: list[str]) -> list[str]:
    o = schema.orders.c
    found = {
        str(x) for x in conn.execute(select(o.day).where(o.day.in_(days)).distinct()).scalars()
    }
    return [x for x in days if x in found]


def forecast(conn: Connection, day: str, weeks: int = WEEKS) -> Forecast:
    target = date.fromisoformat(day)
    candidates = [(target - timedelta(weeks=k)).isoformat() for k in range(1, weeks + 1)]
    based_on = _open_days(conn, candidates)
    sums: Counts = defaultdict(lambda: defaultdict(float))
    for past in based_on:
        for dish_id, by_hour in actual(conn, past).items():
            for hour, n in by_hour.items():
                sums[dish_id][hour] += n
    per_hour = {
        dish: {h: n / len(based_on) for h, n in sorted(by_hour.items())}
        for dish, by_hour in sums.items()
    }
    return Forecast(day, based_on, per_hour)


@dataclass(frozen=True)
class Accuracy:
    days: list[str]
    # Weighted absolute percentage errors (None: nothing to compare yet): all dishes per
    # hour (staffing), each dish per hour, each dish over the day (prep).
    total_wape: float | None
    hourly_wape: float | None
    daily_wape: float | None

    def said(self) -> Said:
        """How good the forecast is, as a text of the console's table."""
        if self.total_wape is None or self.hourly_wape is None or self.daily_wape is None:
            return Said('reports.notes.accuracy_none')
        return Said(
            'reports.notes.accuracy',
            {
                'n': len(self.days),
                **weekday(self.days[0]),
                'total': round(self.total_wape * 100),
                'daily': round(self.daily_wape * 100),
                'hourly': round(self.hourly_wape * 100),
            },
        )

    def text(self) -> str:
        return str(self.said())


def weekday(day: str) -> dict[str, str]:
    """A text's `{weekday}`: its English name, and the day it is of (`weekday_of`), which the
    console names in the operator's language."""
    return {'weekday': date.fromisoformat(day).strftime('%A'), 'weekday_of': day}


def accuracy(conn: Connection, day: str, backtest: int = BACKTEST) -> Accuracy:
    target = date.fromisoformat(day)
    past = [(target - timedelta(weeks=k)).isoformat() for k in range(1, backtest + 1)]
    tested: list[str] = []
    total_err = hourly_err = daily_err = sold = 0.0
    for test_day in _open_days(conn, past):
        f = forecast(conn, test_day)
        if not f.based_on:
            continue
        real = actual(conn, test_day)
        tested.append(test_day)
        dishes = set(real) | set(f.per_hour)
        for h in set(f.hours()) | {h for by_hour in real.values() for h in by_hour}:
            want = [f.per_hour.get(d, {}).get(h, 0.0) for d in dishes]
            got = [real.get(d, {}).get(h, 0.0) for d in dishes]
            total_err += abs(sum(want) - sum(got))
            hourly_err += sum(abs(w - g) for w, g in zip(want, got, strict=True))
        for d in dishes:
            got_day = sum(real.get(d, {}).values())
            daily_err += abs(f.total(d) - got_day)
            sold += got_day
    if not tested or sold == 0:
        return Accuracy(tested, None, None, None)
    return Accuracy(tested, total_err / sold, hourly_err / sold, daily_err / sold)


@dataclass(frozen=True)
class PrepLine:
    ingredient: str
    unit: str
    need: int


def prep_list(cfg: RestaurantConfig, f: Forecast) -> list[PrepLine]:
    """What the forecast dishes take (each with its default options), per ingredient."""
    k = kitchen(cfg)
    need: dict[str, float] = defaultdict(float)
    for dish_id in f.per_hour:
        for ing, amount in k.uses(dish_id).items():
            need[ing] += amount * f.total(dish_id)
    return [PrepLine(i, k.unit(i), round(need[i])) for i in k.ingredients if round(need.get(i, 0))]
