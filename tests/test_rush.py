"""A short accelerated rush through the whole restaurant, checked against the robots' ledgers.

`robodine rush` starts Redis, the API with the dispatcher and every robot process; the diners
order over HTTP. Afterwards every order must be served and the report must agree with what the
robots themselves recorded in their on-disk ledgers.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from orchestrator.config import RestaurantConfig, load_restaurant
from orchestrator.rush import fleet_size
from orchestrator.rush.scenario import load_scenario
from orchestrator.rush.twin import run_twin
from tests.ros_helpers import ros_child_env

pytestmark = pytest.mark.ros
SPEED = 60


def ledger(data_dir: Path, robot_id: str) -> list[tuple[str, str, dict]]:
    """(kind, status, goal) of every job in a robot's ledger."""
    db = sqlite3.connect(data_dir / 'ledger' / f'{robot_id}.sqlite')
    try:
        rows = db.execute('SELECT kind, status, goal FROM jobs').fetchall()
    finally:
        db.close()
    return [(kind, status, json.loads(goal)) for kind, status, goal in rows]


def test_short_rush_serves_everything_and_agrees_with_the_ledgers(
    tmp_path: Path, demo_config: RestaurantConfig
) -> None:
    scenario = tmp_path / 'short.yaml'
    scenario.write_text(
        yaml.safe_dump(
            {
                'name': 'short test rush',
                'duration_min': 5,
                'seed': 11,
                'arrivals': [{'from_min': 0, 'parties_per_hour': 90}],
                'party_size': {'min': 1, 'max': 4},
                'dishes_per_guest': 1.5,
                'popularity': {'fried-rice': 3, 'fries': 2, 'udon': 2, 'iced-tea': 3, 'mochi': 1},
                'order_after_s': {'min': 10, 'max': 30},
                'pickup_after_s': {'min': 5, 'max': 20},
                'dine_min': {'min': 3, 'max': 6},
                # Every party of two or more splits; every payment is declined once.
                'split_share': 1.0,
                'decline_share': 1.0,
            }
        )
    )
    data_dir, report_path = tmp_path / 'data', tmp_path / 'report.json'
    run = subprocess.run(
        [
            sys.executable,
            '-m',
            'orchestrator.cli',
            'rush',
            '--scenario',
            str(scenario),
            '--speed',
            str(SPEED),
            '--report',
            str(report_path),
            '--data-dir',
            str(data_dir),
            # The owner's "could two serving robots carry it, with wok2 down?".
            '--serving-robots',
            '2',
            '--without',
            'wok2',
        ],
        env=ros_child_env(),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert 'simulated' in run.stderr  # the progress bar
    report = json.loads(report_path.read_text())
    assert 'ticket (order → served)' in run.stdout

    orders = report['orders']
    assert report['parties']['errors'] == []
    assert orders['placed'] >= 3
    assert orders['served'] == orders['placed'] and orders['unserved'] == {}
    assert report['time_scale'] == SPEED

    ticket, bound = report['ticket_s'], report['lower_bound_ticket_s']
    assert ticket['n'] == orders['served']
    # The kitchen brain's numbers: the policy, the bound no policy beats, the diners' ETAs.
    assert report['policy'] == demo_config.service.policy
    assert report['capacity_bound_ticket_s'] <= ticket['mean']
    assert report['eta_error_s']['n'] == orders['served']
    assert report['dish_hold_s']['n'] == orders['dishes']
    # The rush ran the fleet asked for, from a config of its own beside its data.
    fleet = fleet_size.with_serving_robots(fleet_size.without(demo_config, ['wok2']), 2)
    assert load_restaurant(data_dir / 'restaurant.yaml') == fleet
    for absent in ('serve3', 'wok2'):
        assert absent not in report['robots']
        assert not (data_dir / 'ledger' / f'{absent}.sqlite').exists()
    # The offline twin plays the very same parties: its tickets agree with the real ones.
    model = run_twin(fleet, load_scenario(scenario, fleet), report['policy'])
    assert model['orders']['placed'] == orders['placed']
    assert model['ticket_s']['mean'] == pytest.approx(ticket['mean'], rel=0.25)
    assert ticket['p50'] <= ticket['p95'] <= ticket['max']
    # Nothing beats unlimited robots and stations.
    assert ticket['mean'] >= bound['mean'] and report['ticket_to_lower_bound'] >= 1
    assert report['pass_wait_s']['n'] == report['dispatch_wait_s']['n'] == orders['served']
    assert report['dispatch_wait_s']['mean'] <= report['pass_wait_s']['mean']

    robots = report['robots']
    cooked = 0
    for robot in fleet.cooking_robots:
        jobs = ledger(data_dir, robot.id)
        done = sum(kind == 'cook' and status == 'done' for kind, status, _ in jobs)
        assert robots[robot.id]['dishes_cooked'] == done, robot.id
        assert 0 <= robots[robot.id]['utilization'] <= 1
        cooked += done
    assert cooked == orders['dishes'] == orders['dishes_served']
    # The rush's own archive holds its whole service, and no generated demo history:
    # `robodine report` on this data directory tells the rush.
    db = sqlite3.connect(data_dir / 'archive.sqlite')
    try:
        archived = db.execute('SELECT COUNT(*), COALESCE(SUM(demo), 0) FROM orders').fetchone()
    finally:
        db.close()
    assert archived == (orders['placed'], 0)

    trips = 0
    for server in fleet.serving_robots:
        goals = [
            goal
            for kind, status, goal in ledger(data_dir, server.id)
            if kind == 'trip' and status == 'done'
        ]
        mine = robots[server.id]
        assert mine['trips'] == len(goals), server.id
        assert mine['trays'] == sum(
            len({t for s in g['stops'] for t in s['trays']}) for g in goals
        ), server.id
        assert 0 <= mine['utilization'] <= 1
        assert (mine['distance_m'] > 0) == (len(goals) > 0)
        trips += len(goals)
    assert report['trips']['count'] == trips > 0
    assert report['trips']['distance_m'] == pytest.approx(
        sum(robots[r.id]['distance_m'] for r in fleet.serving_robots), abs=0.5
    )
    # With the sim driver the floor monitor counts collisions from the robots' shared poses.
    collisions = report['collisions']
    assert collisions['source'] == 'floor monitor'
    assert collisions['count'] == len(collisions['events'])
    # The demo restaurant drives without the traffic controller (tests/test_traffic_ros.py).
    assert report['traffic'] is None and 'traffic control off' in run.stdout
    jitter = report['scheduling_jitter_s']
    assert jitter['arrive']['n'] == report['parties']['arrived']
    assert jitter['pickup']['n'] >= orders['served']

    # Every party asked for the bill, split it if it could, paid (each payment declined once,
    # then paid again) and left a free table.
    bill = report['bill']
    assert bill['parties_paid'] == report['parties']['seated'] and bill['revenue'] > 0
    assert bill['payments_declined'] >= bill['parties_paid']
    assert bill['payment_s']['n'] == bill['table_turn_s']['n'] == bill['parties_paid']
    assert bill['payment_s']['mean'] >= 20  # the retry after a decline
    assert f'revenue {bill["revenue_text"]} from' in run.stdout
