"""Rush scenarios: validation naming file and field, the offered-load arithmetic, arrivals."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from orchestrator.config import RestaurantConfig, load_restaurant
from orchestrator.rush.diners import Host, plan_parties
from orchestrator.rush.report import route_m, stats
from orchestrator.rush.scenario import ScenarioError, load_scenario, offered_load, station_work
from orchestrator.settings import REPO_ROOT

SCENARIOS = REPO_ROOT / 'seeds' / 'scenarios'


@pytest.mark.parametrize('name', ['weekday_lunch', 'saturday_peak', 'narrow_lanes'])
def test_seed_scenarios_load(name: str, demo_config: RestaurantConfig) -> None:
    scenario = load_scenario(SCENARIOS / f'{name}.yaml', demo_config)
    assert plan_parties(scenario, demo_config)
    seating = {t.id for t in scenario.seating(demo_config)}
    assert seating == (set(scenario.tables) or {t.id for t in demo_config.tables})


def test_saturday_peak_loads_the_kitchen_to_about_80_percent(
    demo_config: RestaurantConfig,
) -> None:
    scenario = load_scenario(SCENARIOS / 'saturday_peak.yaml', demo_config)
    peak = max(w.parties_per_hour for w in scenario.arrivals)
    loads = {g.stations: g.utilization for g in offered_load(demo_config, scenario, peak)}
    # The numbers documented in the scenario file.
    assert loads[('fryer', 'grill', 'wok')] == pytest.approx(0.81, abs=0.01)
    assert loads[('noodle',)] == pytest.approx(0.44, abs=0.01)
    assert loads[('dessert', 'drinks')] == pytest.approx(0.21, abs=0.01)


def test_the_harbor_rush_loads_its_hot_line_to_about_92_percent() -> None:
    """The second restaurant and its scenario load as `robodine rush --config` reads them; the
    numbers are those documented in the scenario file."""
    cfg = load_restaurant(REPO_ROOT / 'seeds' / 'harbor.yaml')
    scenario = load_scenario(SCENARIOS / 'harbor_rush.yaml', cfg)
    assert plan_parties(scenario, cfg)
    peak = max(w.parties_per_hour for w in scenario.arrivals)
    loads = {g.stations: g.utilization for g in offered_load(cfg, scenario, peak)}
    assert loads[('fryer', 'grill')] == pytest.approx(0.92, abs=0.01)
    assert loads[('raw',)] == pytest.approx(0.21, abs=0.01)
    assert loads[('pot',)] == pytest.approx(0.23, abs=0.01)
    assert loads[('bar',)] == pytest.approx(0.09, abs=0.01)
    # The only fryer robot also grills; the grill-only robot cannot fry.
    fryers = [r.id for r in cfg.cooking_robots if 'fryer' in r.stations]
    assert fryers == ['fry1'] and {'grill'} in [set(r.stations) for r in cfg.cooking_robots]
    assert station_work(cfg, scenario, peak)['fryer'] / (3 * 3600) == pytest.approx(0.71, abs=0.01)


def test_arrivals_follow_the_rates_and_the_seed(demo_config: RestaurantConfig) -> None:
    scenario = load_scenario(SCENARIOS / 'saturday_peak.yaml', demo_config)
    parties = plan_parties(scenario, demo_config)
    assert [p.arrive_s for p in parties] == [
        p.arrive_s for p in plan_parties(scenario, demo_config)
    ]
    assert all(0 <= p.arrive_s < 90 * 60 for p in parties)
    peak = [p for p in parties if 15 * 60 <= p.arrive_s < 75 * 60]
    # 28/h for an hour: Poisson, so within a few standard deviations (sqrt 28 ~ 5.3).
    assert 12 <= len(peak) <= 44
    assert all(1 <= p.size <= 4 and p.dishes for p in parties)
    assert {d for p in parties for d in p.dishes} <= set(scenario.popularity)


def _write(tmp_path: Path, **changes: object) -> Path:
    raw = yaml.safe_load((SCENARIOS / 'weekday_lunch.yaml').read_text())
    raw.update(changes)
    path = tmp_path / 'scenario.yaml'
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(
    ('changes', 'message'),
    [
        ({'popularity': {'pizza': 1}}, 'popularity.pizza: no such dish'),
        ({'party_size': {'min': 1, 'max': 9}}, 'party_size.max'),
        ({'pickup_after_s': {'min': 30, 'max': 5}}, 'pickup_after_s: max 5 is below min 30'),
        ({'arrivals': [{'from_min': 5, 'parties_per_hour': 3}]}, 'from_min 0'),
        ({'duration_min': -1}, 'duration_min'),
        ({'dine_minutes': 3}, 'dine_minutes'),
        ({'tables': ['t01', 't99']}, "tables: no table 't99'"),
        ({'tables': ['t04']}, 'party_size.max: 3 guests, but the largest table seats 2'),
        # A plain number where the README asks for {min, max}: in the owner's words, not
        # pydantic's ('a valid dictionary or instance of Span').
        ({'party_size': 3}, 'party_size: should be {min, max}, e.g. {min: 2, max: 4}'),
        (
            {'dine_min': '20-30'},
            'dine_min: should be {min, max}, e.g. {min: 2, max: 4} (for a '
            "fixed value, the same number twice), got '20-30'",
        ),
    ],
)
def test_errors_name_the_file_and_field(
    tmp_path: Path, demo_config: RestaurantConfig, changes: dict, message: str
) -> None:
    path = _write(tmp_path, **changes)
    with pytest.raises(ScenarioError) as e:
        load_scenario(path, demo_config)
    assert str(path) in str(e.value)
    assert message in str(e.value)


def test_stats_and_trip_routes(demo_config: RestaurantConfig) -> None:
    assert stats([3.0, 1.0, 2.0, 10.0]) == {
        'n': 4,
        'mean': 4.0,
        'p50': 2.0,
        'p95': 10.0,
        'max': 10.0,
    }
    assert stats([])['mean'] is None
    serve1 = demo_config.serving_robots[0]
    # dock1 → pass is 11.0 m: 1.3 to the aisle corner, 8.5 along the aisle, 1.2 up to the pass.
    there_and_back = route_m(demo_config, serve1, [], back=False)
    assert there_and_back == pytest.approx(2 * 11.0)
    one_stop = route_m(demo_config, serve1, ['t02'], back=False)
    assert one_stop > there_and_back
    assert route_m(demo_config, serve1, ['t02'], back=True) > one_stop


async def test_host_seats_the_smallest_fitting_table_and_queues(
    demo_config: RestaurantConfig,
) -> None:
    host = Host(list(demo_config.tables))
    two = await host.seat(2, 1.0)
    assert two is not None and two.seats == 2
    fours = [await host.seat(4, 1.0) for _ in range(12)]
    assert all(t is not None and t.seats == 4 for t in fours)
    # No four-seater left: a party of four waits at the door, and leaves if none frees up.
    assert await host.seat(4, 0.05) is None
    waiting = asyncio.create_task(host.seat(3, 5.0))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    assert fours[0] is not None
    await host.release(fours[0])
    assert await waiting == fours[0]
