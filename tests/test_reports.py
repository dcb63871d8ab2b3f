"""Reports and the prep forecast from a real SQLite archive: generated demo history (labelled),
a day's sections checked against the rows they summarise, the forecast and its backtest, the
prep list from the recipes, and `robodine report` writing CSV files and a self-contained page."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from orchestrator.archive import demo_history, schema
from orchestrator.archive.db import open_engine
from orchestrator.config import RestaurantConfig
from orchestrator.recipes import kitchen
from orchestrator.reports import day, forecast
from orchestrator.settings import DEFAULT_CONFIG
from tests.api_helpers import REPO

TODAY = date(2026, 11, 25)  # a Wednesday
WEEKS = 5


@pytest.fixture(scope='module')
def archive(
    tmp_path_factory: pytest.TempPathFactory, demo_config: RestaurantConfig
) -> Iterator[Engine]:
    path = tmp_path_factory.mktemp('archive') / 'archive.sqlite'
    engine = open_engine(f'sqlite:///{path}')
    assert demo_history.seed(engine, demo_config, weeks=WEEKS, today=TODAY) > 0
    yield engine
    engine.dispose()


def test_demo_history_is_labelled_and_seeded_once(
    archive: Engine, demo_config: RestaurantConfig
) -> None:
    with archive.connect() as conn:
        rows = conn.execute(select(schema.orders.c.id, schema.orders.c.demo)).all()
        days = conn.execute(select(func.count(func.distinct(schema.orders.c.day)))).scalar()
    assert rows and all(demo and oid.startswith('demo-') for oid, demo in rows)
    assert days == WEEKS * 7
    # A second seed (a restarted `robodine up`) adds nothing: the archive has orders.
    assert demo_history.seed(archive, demo_config, weeks=WEEKS, today=TODAY) == 0


def test_percentile_is_nearest_rank() -> None:
    assert day.percentile([], 0.5) is None
    assert day.percentile([5.0], 0.95) == 5.0
    values = [float(v) for v in range(1, 101)]
    assert day.percentile(values, 0.5) == 50.0 and day.percentile(values, 0.95) == 95.0


def test_a_days_report_adds_up(archive: Engine, demo_config: RestaurantConfig) -> None:
    which = (TODAY - timedelta(days=1)).isoformat()
    report = day.build(archive, demo_config, which)
    assert report.demo
    ids = [s.id for s in report.sections]
    assert ids == [
        'hourly', 'dishes', 'tickets', 'stations', 'pass', 'robots', 'menu', 'waste', 'stock',
        'forecast', 'prep',
    ]  # fmt: skip
    with archive.connect() as conn:
        orders = conn.execute(select(schema.orders).where(schema.orders.c.day == which)).all()
        dishes = conn.execute(select(schema.dishes).where(schema.dishes.c.day == which)).all()
    hourly = report.section('hourly')
    assert hourly is not None
    assert sum(r[1] for r in hourly.rows) == len(orders)
    assert sum(r[3] for r in hourly.rows) == sum(o.total for o in orders if o.status == 'served')
    by_station = report.section('dishes')
    assert by_station is not None
    assert sum(r[-1] for r in by_station.rows) == sum(d.status != 'withdrawn' for d in dishes)
    tickets = report.section('tickets')
    assert tickets is not None
    for _, n, p50, p95 in tickets.rows:
        assert n == 0 or 0 < p50 <= p95
    robots = report.section('robots')
    assert robots is not None
    assert {r[0] for r in robots.rows} == {
        *(r.id for r in demo_config.cooking_robots),
        *(r.id for r in demo_config.serving_robots),
    }
    assert all(0 <= r[3] <= 100 for r in robots.rows)


def test_the_forecast_averages_the_same_weekdays_and_says_how_good_it_is(
    archive: Engine, demo_config: RestaurantConfig
) -> None:
    target = TODAY.isoformat()
    with archive.connect() as conn:
        f = forecast.forecast(conn, target)
        acc = forecast.accuracy(conn, target)
        past = [forecast.actual(conn, d) for d in f.based_on]
    # Five Wednesdays of history before it (newest first).
    assert f.based_on == [(TODAY - timedelta(weeks=k)).isoformat() for k in range(1, WEEKS + 1)]
    galbi = sum(sum(p.get('galbi', {}).values()) for p in past) / len(past)
    assert f.total('galbi') == pytest.approx(galbi)
    assert acc.total_wape is not None and acc.hourly_wape is not None
    assert acc.daily_wape is not None
    assert 0 <= acc.total_wape <= acc.hourly_wape  # hour totals err less than dish by dish
    assert 'WAPE' in acc.text()
    # The prep list: the forecast dishes times their recipes (galbi: two short ribs each).
    prep = {p.ingredient: p.need for p in forecast.prep_list(demo_config, f)}
    assert prep['short-rib'] == round(2 * f.total('galbi'))
    uses = kitchen(demo_config).uses
    chicken = sum(uses(d).get('chicken', 0) * f.total(d) for d in f.per_hour)
    assert prep['chicken'] == round(chicken)


def test_no_history_no_forecast(tmp_path: Path, demo_config: RestaurantConfig) -> None:
    engine = open_engine(f'sqlite:///{tmp_path / "empty.sqlite"}')
    with engine.connect() as conn:
        f = forecast.forecast(conn, '2026-12-02')
        acc = forecast.accuracy(conn, '2026-12-02')
    assert f.based_on == [] and f.per_hour == {} and forecast.prep_list(demo_config, f) == []
    assert acc.text() == 'not enough history yet to say how good the forecast is'
    report = day.build(engine, demo_config, '2026-12-01')
    # Robots and stations are listed with nothing against them; the rest is empty.
    assert not report.demo
    assert all(s.rows == [] for s in report.sections if s.id not in ('robots', 'stations'))
    engine.dispose()


def test_robodine_report_writes_csv_and_a_self_contained_page(
    archive: Engine, tmp_path: Path
) -> None:
    which = (TODAY - timedelta(days=3)).isoformat()
    out = tmp_path / 'report'
    res = subprocess.run(
        [sys.executable, '-m', 'orchestrator.cli', 'report', '--config', str(DEFAULT_CONFIG),
         '--archive-url', str(archive.url), '--date', which, '--out', str(out)],
        cwd=REPO, env=os.environ.copy(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert 'includes DEMO data' in res.stderr
    with (out / 'hourly.csv').open(encoding='utf-8') as f:
        rows = list(csv.reader(f))
    assert rows[0] == ['hour', 'orders', 'covers', 'revenue'] and len(rows) > 3
    # The day in one line: the sums of the hourly section.
    orders, covers, revenue = (sum(int(r[i]) for r in rows[1:]) for i in (1, 2, 3))
    assert f': {orders} orders, {covers} covers, revenue {revenue:,} KRW; ' in res.stderr
    assert {p.name for p in out.iterdir()} >= {
        'hourly.csv',
        'prep.csv',
        'stock.csv',
        'report.html',
    }
    page = (out / 'report.html').read_text(encoding='utf-8')
    # Self-contained: the chart code and the data inline, nothing loaded from anywhere.
    assert 'RobodineCharts' in page and ' src=' not in page and '<link' not in page
    call = "RobodineCharts.render(document.getElementById('report'), "
    data = json.JSONDecoder().raw_decode(page[page.index(call) + len(call) :])[0]
    assert data['date'] == which and data['demo'] is True

    bad = subprocess.run(
        [sys.executable, '-m', 'orchestrator.cli', 'report', '--date', '2026-13-01', '--out',
         str(out)],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and '--date' in bad.stderr


def test_robodine_report_refuses_an_archive_that_is_not_there(tmp_path: Path) -> None:
    """Run where the demo's data dir is not (or with a typo in it), `robodine report` created an
    empty archive there and wrote a day without a single order: it names the file instead."""
    data_dir = tmp_path / 'var'
    for how, env in (
        (['--archive-url', f'sqlite:///{tmp_path / "typo" / "archive.sqlite"}'], {}),
        ([], {'ROBODINE_DATA_DIR': str(data_dir)}),
    ):
        res = subprocess.run(
            [sys.executable, '-m', 'orchestrator.cli', 'report', '--date', '2026-12-01',
             '--out', str(tmp_path / 'out'), *how],
            cwd=REPO, env=os.environ | env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert res.returncode == 1, res.stderr
        assert 'error: no archive at ' in res.stderr and 'archive.sqlite' in res.stderr
        assert 'Traceback' not in res.stderr
    assert not (tmp_path / 'typo').exists() and not data_dir.exists()
    assert not (tmp_path / 'out').exists()


def test_up_and_report_share_the_data_dir_of_the_settings(tmp_path: Path) -> None:
    """`robodine up` kept its data in var/ whatever ROBODINE_DATA_DIR said, while `robodine
    report` read the archive from ROBODINE_DATA_DIR: every default comes from the settings."""
    code = (
        'from orchestrator.cli import build_parser; '
        "print(build_parser().parse_args(['up']).data_dir)"
    )
    env = os.environ | {'ROBODINE_DATA_DIR': str(tmp_path / 'restaurant')}
    res = subprocess.run(
        [sys.executable, '-c', code], cwd=REPO, env=env, capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    assert res.stdout.strip() == str(tmp_path / 'restaurant')
