"""`robodine report --date D --out DIR`: a day's report from the archive as CSV files and a
self-contained HTML page with the charts."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from orchestrator.archive.db import archive_url, open_engine
from orchestrator.bill_view import money
from orchestrator.config import RestaurantConfig, load_restaurant
from orchestrator.reports import day, render
from orchestrator.settings import get_settings


def report_command(args: argparse.Namespace) -> int:
    try:
        which = date.fromisoformat(args.date).isoformat()
    except ValueError:
        print(f'error: --date: {args.date!r} is not a date like 2026-12-01', file=sys.stderr)
        return 2
    cfg = load_restaurant(args.config)
    settings = get_settings()
    url = args.archive_url or archive_url(settings)
    sqlite_file = Path(url.removeprefix('sqlite:///')) if url.startswith('sqlite:///') else None
    if sqlite_file is not None and not sqlite_file.is_file():
        # Opening it would create an empty archive and report a day without a single order.
        print(
            f'error: no archive at {sqlite_file}: `robodine up --data-dir D` keeps it in '
            f'D/archive.sqlite; give ROBODINE_DATA_DIR=D (now {settings.data_dir}) or '
            '--archive-url sqlite:///D/archive.sqlite',
            file=sys.stderr,
        )
        return 1
    engine = open_engine(url)
    try:
        report = day.build(engine, cfg, which)
    finally:
        engine.dispose()
    files = render.write(report, cfg.restaurant.name.en, args.out)
    demo = ' (includes DEMO data)' if report.demo else ''
    print(
        f'report for {which}{demo}: {totals(report, cfg)}; {len(files)} files in {args.out}',
        file=sys.stderr,
    )
    return 0


def totals(report: day.Report, cfg: RestaurantConfig) -> str:
    """The day in one line: orders, covers and the revenue of the orders served."""
    hourly = report.section('hourly')
    rows = hourly.rows if hourly is not None else []
    orders, covers, revenue = (sum(row[i] for row in rows) for i in (1, 2, 3))
    if not orders:
        return 'no orders archived for that day'
    return f'{orders} orders, {covers} covers, revenue {money(cfg, revenue)}'
