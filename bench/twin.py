"""Scheduling policies compared in the offline twin: mean and p95 ticket, against the capacity
bound and against `fifo` played on the same seeds.

Each scenario runs every policy on `--seeds` seeds (1..N: the same parties for every policy)
with the twin (`orchestrator/rush/twin.py`, latencies `--latency`); tickets are pooled over
the seeds. `--scenario RESTAURANT.yaml:SCENARIO.yaml` adds another restaurant. With
`--calibrate RUSH_REPORT.json` it also plays that report's policy on its scenario and seed and
prints both (the report must come from the same restaurant; `robodine rush --report` writes
one).

    .venv/bin/python bench/twin.py [--seeds 20] [--scenario R.yaml:S.yaml]... [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from orchestrator.config import RestaurantConfig, load_restaurant  # noqa: E402
from orchestrator.dispatch.scheduling import POLICIES  # noqa: E402
from orchestrator.rush.scenario import Scenario, load_scenario  # noqa: E402
from orchestrator.rush.twin import LATENCIES, Row, compare, run_twin, table  # noqa: E402

SEEDS = REPO / 'seeds'
SHIPPED = [
    (SEEDS / 'restaurant.yaml', SEEDS / 'scenarios' / 'saturday_peak.yaml'),
    (SEEDS / 'restaurant.yaml', SEEDS / 'scenarios' / 'weekday_lunch.yaml'),
    (SEEDS / 'harbor.yaml', SEEDS / 'scenarios' / 'harbor_rush.yaml'),
]


def shipped(name: str) -> tuple[RestaurantConfig, Scenario]:
    """The shipped scenario of that name, with its restaurant."""
    for restaurant, path in SHIPPED:
        cfg = load_restaurant(restaurant)
        scenario = load_scenario(path, cfg)
        if scenario.name == name:
            return cfg, scenario
    raise SystemExit(f'no shipped scenario {name!r}')


def calibration(report_path: Path) -> dict[str, object]:
    real = json.loads(report_path.read_text())
    cfg, scenario = shipped(real['scenario'])
    twin = run_twin(cfg, scenario, real.get('policy') or cfg.service.policy)
    keys = ('ticket_s', 'pass_wait_s', 'dispatch_wait_s')
    return {
        'scenario': real['scenario'],
        'seed': scenario.seed,
        'policy': twin['policy'],
        'real': {k: real[k] for k in keys} | {'trays_per_trip': real['trips']['trays_per_trip']},
        'twin': {k: twin[k] for k in keys} | {'trays_per_trip': twin['trips']['trays_per_trip']},
        'mean_ratio': round(twin['ticket_s']['mean'] / real['ticket_s']['mean'], 3),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--seeds', type=int, default=20)
    p.add_argument('--latency', choices=sorted(LATENCIES), default='rush')
    p.add_argument(
        '--scenario',
        action='append',
        default=[],
        metavar='RESTAURANT:SCENARIO',
        help='another restaurant YAML and scenario YAML, colon-separated',
    )
    p.add_argument('--calibrate', type=Path, action='append', default=[], metavar='REPORT')
    p.add_argument('--json', action='store_true', help='print one JSON object')
    args = p.parse_args()
    extra = [tuple(Path(x) for x in s.split(':', 1)) for s in args.scenario]
    started = time.perf_counter()
    rows: list[Row] = []
    for restaurant, scenario_path in SHIPPED + extra:
        cfg = load_restaurant(restaurant)
        scenario = load_scenario(scenario_path, cfg)
        rows += compare(
            cfg, scenario, list(POLICIES), range(1, args.seeds + 1), LATENCIES[args.latency]
        )
    calibrations = [calibration(path) for path in args.calibrate]
    wall_s = time.perf_counter() - started
    if args.json:
        out = {
            'latency': args.latency,
            'seeds': args.seeds,
            'rows': [asdict(r) for r in rows],
            'calibration': calibrations,
            'wall_s': round(wall_s, 1),
        }
        print(json.dumps(out, indent=2))
        return 0
    print(
        f'{args.seeds} seeds per scenario, latencies {args.latency}: '
        f'{LATENCIES[args.latency]}; {wall_s:.1f} s\n'
    )
    print(table(rows))
    for c in calibrations:
        real, twin = c['real'], c['twin']
        assert isinstance(real, dict) and isinstance(twin, dict)
        print(
            f'\ncalibration {c["scenario"]} seed {c["seed"]} ({c["policy"]}): rush ticket mean '
            f'{real["ticket_s"]["mean"]} s p95 {real["ticket_s"]["p95"]} s, twin '
            f'{twin["ticket_s"]["mean"]} s p95 {twin["ticket_s"]["p95"]} s: ×{c["mean_ratio"]}'
        )
    return 0


if __name__ == '__main__':
    sys.exit(main())
