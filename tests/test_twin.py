"""The offline twin: the rush's diners, fast and deterministic, above the bound (it is checked
against a real rush in tests/test_rush.py)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from orchestrator.config import RestaurantConfig
from orchestrator.dispatch.scheduling import get_policy
from orchestrator.rush.scenario import Scenario, load_scenario
from orchestrator.rush.twin import LATENCIES, compare, play, run_twin

SCENARIOS = Path(__file__).resolve().parent.parent / 'seeds' / 'scenarios'


@pytest.fixture(scope='module')
def saturday(demo_config: RestaurantConfig) -> Scenario:
    return load_scenario(SCENARIOS / 'saturday_peak.yaml', demo_config)


@pytest.fixture(scope='module')
def lunch(demo_config: RestaurantConfig) -> Scenario:
    return load_scenario(SCENARIOS / 'weekday_lunch.yaml', demo_config)


def test_a_saturday_is_fast_and_deterministic(
    demo_config: RestaurantConfig, saturday: Scenario
) -> None:
    started = time.perf_counter()
    first = run_twin(demo_config, saturday, 'srpt')
    assert time.perf_counter() - started < 5
    assert first == run_twin(demo_config, saturday, 'srpt')
    assert first != run_twin(demo_config, saturday, 'srpt', seed=41)
    assert first['orders']['served'] == first['orders']['placed'] == 37
    assert first['orders']['dishes'] == 186


@pytest.mark.parametrize('name', ['saturday', 'lunch'])
def test_the_capacity_bound_is_below_every_policy(
    demo_config: RestaurantConfig, name: str, request: pytest.FixtureRequest
) -> None:
    scenario = request.getfixturevalue(name)
    for policy in ('srpt', 'fifo'):
        for seed in (scenario.seed, 5):
            for latency in ('ideal', 'rush'):
                r = run_twin(demo_config, scenario, policy, seed, LATENCIES[latency])
                bound = r['capacity_bound_ticket_s']
                assert r['lower_bound_ticket_s']['mean'] <= bound <= r['ticket_s']['mean']


def test_report_numbers(demo_config: RestaurantConfig, saturday: Scenario) -> None:
    r = run_twin(demo_config, saturday, 'srpt-fire', age_weight=0.5)
    assert r['policy'] == 'srpt-fire' and r['knobs'] == {'age_weight': 0.5}
    assert set(r['start_wait_s']) == {'wok', 'grill', 'fryer', 'noodle', 'drinks', 'dessert'}
    assert r['pass_wait_s']['n'] == 37 and r['dish_hold_s']['n'] == 186
    assert r['pass_wait_s']['mean'] >= r['dispatch_wait_s']['mean'] > 0
    assert r['eta_error_s']['n'] == 37
    assert 1 <= r['trips']['trays_per_trip'] <= 4
    cooked = sum(v.get('dishes_cooked', 0) for v in r['robots'].values())
    assert cooked == 186
    assert all(0 < v['utilization'] < 1 for v in r['robots'].values())


def test_compare(demo_config: RestaurantConfig, lunch: Scenario) -> None:
    rows = compare(demo_config, lunch, ['legacy', 'fifo', 'srpt'], [1, 2])
    assert [r.policy for r in rows] == ['legacy', 'fifo', 'srpt']
    fifo = rows[1]
    assert fifo.to_fifo == fifo.p95_to_fifo == 1.0
    assert all(r.seeds == 2 and r.to_bound >= 1 for r in rows)


def test_a_table_is_taken_until_the_bill_is_paid_and_closed(
    demo_config: RestaurantConfig, saturday: Scenario
) -> None:
    """As in the rush: diners ask for the bill after dinner, pay (again after a decline) and
    the table is closed `close_after_paid_s` later. Freed at the end of dinner, the twin
    seated 25 of Harbor's 26 parties where the real runs seated 23-24."""
    twin = play(demo_config, saturday, get_policy('srpt'), None, LATENCIES['rush'])
    close_s = demo_config.service.close_after_paid_s
    by_table: dict[str, list[float]] = {}
    for o in twin.orders:
        assert o.party.seated_s is not None
        by_table.setdefault(o.table.id, []).append(o.party.seated_s)
    follows = 0
    for o in twin.orders:
        if o.served_s is None or o.party.seated_s is None:
            continue
        freed = o.served_s + o.party.dine_s + close_s
        freed += o.party.declines_planned * saturday.retry_after_s
        later = [t for t in by_table[o.table.id] if t > o.party.seated_s]
        assert all(t >= freed for t in later)
        follows += bool(later)
    assert follows > 0


def test_an_order_is_queued_in_station_order(
    demo_config: RestaurantConfig, saturday: Scenario
) -> None:
    """The dispatcher lists its queues station by station (config order), which breaks ties
    in every policy, so the twin does too."""
    twin = play(demo_config, saturday, get_policy('fifo'), None, LATENCIES['rush'])
    rank = {s.id: i for i, s in enumerate(demo_config.stations)}
    for o in twin.orders:
        stations = [rank[d.view.station] for d in o.dishes]
        assert stations == sorted(stations)
