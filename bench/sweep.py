"""Does `srpt`'s gain over `fifo` hold on kitchens it was not tuned on? Random hot pools in the
offline twin.

Each kitchen keeps a shipped restaurant's menu, floor and scenario but redraws the robots of
its busiest pool (the stations of the pool, 2-4 robots, each with one home station — every
station has one — a second station of the pool with probability 1/2, 1-4 slots) and
stretches that pool's cook times so its offered load at the scenario's peak is a random
75-95 %; then every policy of `--policy` plays it on seeds 1..N (`twin.compare`).

    .venv/bin/python bench/sweep.py [--kitchens 6] [--seeds 20] [--draw 1] [--base R.yaml:S.yaml]
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from orchestrator.config import RestaurantConfig, load_restaurant  # noqa: E402
from orchestrator.rush.scenario import (  # noqa: E402
    Scenario,
    load_scenario,
    offered_load,
    station_work,
)
from orchestrator.rush.twin import Row, compare, table  # noqa: E402

BASE = f'{REPO}/seeds/restaurant.yaml:{REPO}/seeds/scenarios/saturday_peak.yaml'


def busiest(cfg: RestaurantConfig, scenario: Scenario) -> list[str]:
    """The stations of the pool with the highest offered load at the peak."""
    peak = max(w.parties_per_hour for w in scenario.arrivals)
    return list(max(offered_load(cfg, scenario, peak), key=lambda g: g.utilization).stations)


def load(cfg: RestaurantConfig, scenario: Scenario, stations: list[str]) -> float:
    """The highest offered load at the peak of any set S of `stations`: their work over the
    slots of the robots that cook any of S (a pool's average hides one station's only robot)."""
    peak = max(w.parties_per_hour for w in scenario.arrivals)
    work = station_work(cfg, scenario, peak)
    loads = []
    for n in range(1, len(stations) + 1):
        for subset in itertools.combinations(stations, n):
            slots = sum(r.capacity for r in cfg.cooking_robots if set(subset) & set(r.stations))
            loads.append(sum(work.get(s, 0.0) for s in subset) / (slots * 3600))
    return max(loads)


def kitchen(
    cfg: RestaurantConfig, scenario: Scenario, stations: list[str], rng: random.Random
) -> RestaurantConfig:
    """`cfg` with new robots for its busiest pool (`stations`) and that pool's cook times
    stretched to a random load (`load`) of 75-95 % (other robots and dishes as they were)."""
    count = rng.randint(max(2, len(stations)), max(4, len(stations)))
    homes = stations + rng.choices(stations, k=count - len(stations))
    robots: list[dict[str, Any]] = []
    for n, home in enumerate(homes, 1):
        serves = [home]
        if len(stations) > 1 and rng.random() < 0.5:
            serves.append(rng.choice([s for s in stations if s != home]))
        robots.append({'id': f'hot{n}', 'stations': serves, 'capacity': rng.randint(1, 4)})
    raw = cfg.model_dump(mode='json')
    raw['cooking_robots'] = robots + [
        r for r in raw['cooking_robots'] if not set(r['stations']) & set(stations)
    ]
    stretch = rng.uniform(0.75, 0.95) / load(
        RestaurantConfig.model_validate(raw), scenario, stations
    )
    for d in raw['dishes']:
        if d['station'] in stations:
            d['cook_time_s'] = round(d['cook_time_s'] * stretch)
    return RestaurantConfig.model_validate(raw)


def describe(cfg: RestaurantConfig, scenario: Scenario, stations: list[str]) -> str:
    robots = ', '.join(
        f'{r.id} {"+".join(r.stations)}×{r.capacity}'
        for r in cfg.cooking_robots
        if set(r.stations) & set(stations)
    )
    return f'{robots}; {load(cfg, scenario, stations):.0%}'


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--kitchens', type=int, default=6)
    p.add_argument('--seeds', type=int, default=20)
    p.add_argument('--draw', type=int, default=1, help='seed of the kitchens drawn')
    p.add_argument('--base', default=BASE, metavar='RESTAURANT:SCENARIO')
    p.add_argument('--policy', action='append', default=[], help='default: fifo and srpt')
    args = p.parse_args()
    restaurant, scenario_path = args.base.split(':', 1)
    base = load_restaurant(restaurant)
    scenario = load_scenario(scenario_path, base)
    rng = random.Random(args.draw)
    stations = busiest(base, scenario)
    started = time.perf_counter()
    rows: list[Row] = []
    for n in range(1, args.kitchens + 1):
        cfg = kitchen(base, scenario, stations, rng)
        name = f'{n}: {describe(cfg, scenario, stations)}'
        named = scenario.model_copy(update={'name': name})
        rows += compare(cfg, named, args.policy or ['fifo', 'srpt'], range(1, args.seeds + 1))
    wall_s = time.perf_counter() - started
    print(f'{args.kitchens} kitchens × {args.seeds} seeds; {wall_s:.1f} s\n')
    print(table(rows))
    return 0


if __name__ == '__main__':
    sys.exit(main())
