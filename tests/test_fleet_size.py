"""How many serving robots carry a service: fleet sizes derived from the config, played in the
twin, and the owner's answer (`robodine rush --model --serving-robots`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

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
    assert one.charges == three.charges == 0  # 90 minutes on a charge that lasts hours


def _row(robots: int, ticket_s: float, served: int = 100, charges: float = 0.0) -> SizeRow:
    return SizeRow(robots, 5, 100, served, ticket_s, 2 * ticket_s, 5.0, 20.0, 0.05, 0.2, charges)


def test_the_fewest_robots_within_the_margin_carry_it() -> None:
    rows = [_row(1, 560), _row(2, 505), _row(3, 500), _row(4, 499)]
    assert carrying(rows) == [2, 3, 4]
    assert carrying(rows, within=0.15) == [1, 2, 3, 4]
    assert verdict(rows, 'Saturday', within=0.15).startswith('1 serving robot carries "Saturday"')
    told = verdict(rows, 'Saturday')
    assert told.startswith(
        '2 serving robots carry "Saturday" in the model: mean ticket 505 s, 6 s more than'
    )
    assert 'charge' not in told
    # A fleet that leaves orders unserved never carries it, however short its tickets.
    rows = [_row(1, 400, served=90), _row(2, 520, charges=1.5), _row(3, 510)]
    assert carrying(rows) == [2, 3]
    assert verdict(rows, 'Saturday').endswith('late; they charge 1.5 times a service.')
    told = verdict([_row(2, 500, served=90)], 'Saturday')
    assert told == (
        'no fleet size tried carries "Saturday" in the model: even 2 leave 10 of 100 orders '
        'unserved.'
    )


def test_orders_the_kitchen_never_cooked_are_not_blamed_on_the_serving_robots(
    demo_config: RestaurantConfig, tmp_path: Path
) -> None:
    """A lunch of galbi only (grill1 alone cooks it, 7 minutes a portion) leaves orders uncooked
    at the end with any fleet: the answer said 'even 3 leave 8 of 17 orders unserved', as if
    more serving robots were the remedy. It says the kitchen is short."""
    raw = yaml.safe_load((ROOT / 'seeds' / 'scenarios' / 'weekday_lunch.yaml').read_text())
    raw.update(popularity={'galbi': 1}, dishes_per_guest=3)
    path = tmp_path / 'galbi.yaml'
    path.write_text(yaml.safe_dump(raw))
    rows = fleet_size.sweep(demo_config, load_scenario(path, demo_config), [1, 3], [1], 'srpt')
    for r in rows:
        assert r.served < r.placed and r.uncooked == r.placed - r.served
    told = verdict(rows, 'Galbi')
    assert told == (
        f'no fleet size tried carries "Galbi" in the model: even 3 leave {rows[1].uncooked} of '
        f'{rows[1].placed} orders unserved, all of them still not cooked 45 min after the last '
        'arrival: the kitchen is short, not the serving robots.'
    )
    less = fleet_size.what_if(rows[1], rows[0], ['serve2', 'serve3'], 'Galbi')
    assert f'{rows[0].served} of {rows[0].placed} served, {rows[0].uncooked} never cooked' in less


def test_a_small_fleet_that_must_charge_loses_time_to_it(demo_config: RestaurantConfig) -> None:
    # Batteries that last a kilometre: one robot alone drives that far on Saturday and stops
    # to charge; two or three share the driving and never do.
    battery = demo_config.battery.model_copy(update={'drain_per_km': 1.0, 'charge_per_h': 8.0})
    weak = demo_config.model_copy(update={'battery': battery})
    saturday = load_scenario(SATURDAY, weak)
    one, two, three = fleet_size.sweep(weak, saturday, [1, 2, 3], [1, 2], 'srpt')
    assert one.charges >= 0.5 and two.charges == three.charges == 0
    assert one.served == one.placed
    steady = fleet_size.sweep(demo_config, saturday, [1], [1, 2], 'srpt')[0]
    assert steady.charges == 0 and one.ticket_mean_s > steady.ticket_mean_s
    assert carrying([one, two, three]) == [2, 3]


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


def test_a_restaurant_without_some_robots_or_why_it_cannot_do_without_them(
    demo_config: RestaurantConfig,
) -> None:
    less = fleet_size.without(demo_config, ['wok2', 'serve3'])
    assert [r.id for r in less.cooking_robots] == ['wok1', 'grill1', 'noodle1', 'bar1']
    assert [r.id for r in less.serving_robots] == ['serve1', 'serve2']
    for gone, says in [
        (['wok9'], r"demo\.yaml: no robot 'wok9' \(its robots: wok1, wok2, grill1"),
        (
            ['grill1'],
            r"demo\.yaml without grill1: stations: no cooking robot serves station 'grill'",
        ),
        (['serve1', 'serve2', 'serve3'], r'without serve1, serve2, serve3: serving_robots: '),
    ]:
        with pytest.raises(ConfigError, match=says):
            fleet_size.without(demo_config, gone, 'demo.yaml')
    assert fleet_size.parse_ids(' wok2, serve3,wok2 ') == ['wok2', 'serve3']
    with pytest.raises(ValueError, match='at least one robot'):
        fleet_size.parse_ids(' , ')


def test_a_wok_robot_down_costs_saturday_far_more_than_a_serving_robot(
    demo_config: RestaurantConfig,
) -> None:
    saturday = load_scenario(SATURDAY, demo_config)
    seeds = [1, 2]
    full = fleet_size.measure(demo_config, saturday, seeds, 'srpt')
    no_wok = fleet_size.measure(fleet_size.without(demo_config, ['wok2']), saturday, seeds, 'srpt')
    no_serve = fleet_size.measure(
        fleet_size.without(demo_config, ['serve3']), saturday, seeds, 'srpt'
    )
    assert no_wok.ticket_mean_s > 1.2 * full.ticket_mean_s
    assert full.ticket_mean_s <= no_serve.ticket_mean_s < 1.02 * full.ticket_mean_s
    told = fleet_size.what_if(full, no_wok, ['wok2'], 'Saturday')
    assert told.startswith(
        f'Without wok2, "Saturday" in the model: mean ticket {full.ticket_mean_s:.0f} → '
    )
    assert told.endswith('.') and 'orders late' in told


def test_the_command_compares_the_service_without_robots(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    args = ['rush', '--scenario', str(SATURDAY), '--model', '--seeds', '1']
    report = tmp_path / 'without.json'
    assert main([*args, '--without', 'wok2', '--report', str(report)]) == 0
    out = capsys.readouterr().out
    assert '| all robots | 1 |' in out and '| without wok2 | 1 |' in out
    rows = json.loads(report.read_text())
    assert [r['fleet'] for r in rows] == ['all robots', 'without wok2']
    assert rows[1]['ticket_mean_s'] > rows[0]['ticket_mean_s']
    assert 'Without wok2, "Saturday peak" in the model: mean ticket' in out
    # Sized without a robot: its dock is free for one like the last again.
    assert main([*args, '--without', 'serve3', '--serving-robots', '1']) == 0
    assert '| 1 | 1 |' in capsys.readouterr().out
    for extra, says in [
        (['--without', 'grill1'], "no cooking robot serves station 'grill'"),
        (['--without', ','], '--without: name at least one robot'),
    ]:
        assert main([*args, *extra]) == 1
        assert says in capsys.readouterr().err


def test_a_report_path_that_cannot_be_written_is_refused_before_the_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`--report` naming a directory (or under a file) was a traceback once the run was over:
    for a real rush, two minutes and the summary lost. It is refused first, naming the flag."""
    (tmp_path / 'afile').write_text('')
    cases = [
        (tmp_path, f'--report {tmp_path}: a directory; give a file, e.g. {tmp_path}/rush.json'),
        (
            tmp_path / 'afile' / 'r.json',
            f'--report {tmp_path}/afile/r.json: {tmp_path}/afile is a file',
        ),
    ]
    for report, says in cases:
        for model in (['--model', '--seeds', '1'], []):  # the real rush never starts
            args = ['rush', '--scenario', str(SATURDAY), *model, '--report', str(report)]
            assert main(args) == 1
            err = capsys.readouterr().err
            assert says in err and 'Traceback' not in err
