"""How many serving robots carry a service: fleet sizes derived from the config, played in the
twin, and the owner's answer (`robodine rush --model --serving-robots`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.cli import main
from orchestrator.config import ConfigError, RestaurantConfig, load_restaurant
from orchestrator.rush import fleet_size
from orchestrator.rush.fleet_size import SizeRow, carrying, parse_sizes, verdict
from orchestrator.rush.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SATURDAY = ROOT / 'seeds' / 'scenarios' / 'saturday_peak.yaml'


def test_sizes_are_numbers_lists_and_ranges() -> None:
    assert parse_sizes('3') == [3]
    assert parse_sizes('4, 1-2,2') == [1, 2, 4]
    for bad, says in [
        ('0', 'start at 1'),
        ('3-1', 'upwards'),
        ('two', 'not a number'),
        ('1-', 'not a number'),
        ('1-30', 'at most 20'),
    ]:
        with pytest.raises(ValueError, match=says):
            parse_sizes(bad)


def test_a_smaller_fleet_is_the_first_robots_and_a_larger_one_uses_spare_docks(
    demo_config: RestaurantConfig,
) -> None:
    two = fleet_size.with_serving_robots(demo_config, 2)
    assert [r.id for r in two.serving_robots] == ['serve1', 'serve2']
    assert two.cooking_robots == demo_config.cooking_robots

    # Without serve3 the floor has a spare dock: a third robot like serve2 stands there.
    three = fleet_size.with_serving_robots(two, 3)
    added = three.serving_robots[2]
    assert added.id == 'serve3'
    assert added.dock == 'dock3'
    assert added.speed_mps == two.serving_robots[1].speed_mps
    # It charges at the charger serve3 used, the one nobody else does.
    assert [three.charger_of(r) for r in three.serving_robots] == ['chg1', 'chg2', 'chg3']

    with pytest.raises(ConfigError, match=r'demo\.yaml: 4 serving robots need 4 docks.*has 3'):
        fleet_size.with_serving_robots(demo_config, 4, 'demo.yaml')


def test_fewer_robots_keep_food_waiting_longer_on_the_same_diners(
    demo_config: RestaurantConfig,
) -> None:
    saturday = load_scenario(SATURDAY, demo_config)
    one, three = fleet_size.sweep(demo_config, saturday, [1, 3], [1, 2, 3], 'srpt')
    assert one.placed == three.placed > 0
    assert one.served == one.placed and three.served == three.placed
    assert one.pass_wait_mean_s > three.pass_wait_mean_s
    assert one.utilization > 2 * three.utilization
    assert demo_config.battery.low < one.battery_left < three.battery_left < 1


def _row(robots: int, ticket_s: float, served: int = 100, battery_left: float = 0.8) -> SizeRow:
    return SizeRow(
        robots, 5, 100, served, ticket_s, 2 * ticket_s, 5.0, 20.0, 0.05, 0.2, battery_left
    )


def test_the_fewest_robots_within_the_margin_carry_it(demo_config: RestaurantConfig) -> None:
    rows = [_row(1, 560), _row(2, 505), _row(3, 500), _row(4, 499)]
    assert carrying(rows, demo_config) == [2, 3, 4]
    assert carrying(rows, demo_config, within=0.15) == [1, 2, 3, 4]
    assert verdict(rows, demo_config, 'Saturday', within=0.15).startswith(
        '1 serving robot carries "Saturday"'
    )
    assert verdict(rows, demo_config, 'Saturday').startswith(
        '2 serving robots carry "Saturday" in the model: mean ticket 505 s, 6 s more than'
    )
    # Orders left unserved, or a robot that would have had to charge, never carry it.
    rows = [_row(1, 400, served=90), _row(2, 500, battery_left=0.1), _row(3, 520)]
    assert carrying(rows, demo_config) == [3]
    told = verdict([_row(2, 500, served=90, battery_left=0.1)], demo_config, 'Saturday')
    assert told.startswith('no fleet size tried carries "Saturday"')
    assert '10 of 100 orders never served' in told
    assert 'fall to 10% charge' in told


def test_the_command_answers_and_refuses_what_it_cannot_answer(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    report = tmp_path / 'sizes.json'
    args = ['rush', '--scenario', str(SATURDAY), '--model', '--seeds', '1']
    assert main([*args, '--serving-robots', '2', '--report', str(report)]) == 0
    out = capsys.readouterr().out
    # The floor's largest fleet (3 docks) is played beside the size asked about.
    assert '| 2 | 1 |' in out and '| 3 | 1 |' in out
    assert 'carry "Saturday peak" in the model' in out
    assert [r['robots'] for r in json.loads(report.read_text())] == [2, 3]

    for extra, says in [
        (['--serving-robots', '4'], '4 serving robots need 4 docks'),
        (['--serving-robots', 'all'], "--serving-robots: 'all' is not a number"),
        (['--serving-robots', '2', '--within', '150'], '--within must be from 0 to 100'),
        (['--within', '5'], '--within goes with --serving-robots'),
    ]:
        assert main([*args, *extra]) == 1
        assert says in capsys.readouterr().err
    # A real rush plays one size (tests/test_rush.py plays one).
    assert main(['rush', '--scenario', str(SATURDAY), '--serving-robots', '1,2']) == 1
    assert 'a real rush plays one fleet size' in capsys.readouterr().err


def test_a_sized_fleet_is_written_as_a_config_that_loads_back(
    demo_config: RestaurantConfig, tmp_path: Path
) -> None:
    two = fleet_size.with_serving_robots(demo_config, 2)
    assert load_restaurant(fleet_size.write_config(two, tmp_path / 'r.yaml')) == two
