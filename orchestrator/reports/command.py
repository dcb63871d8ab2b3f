"""`robodine report --date D --out DIR`: a day's report from the archive as CSV files and a
self-contained HTML page with the charts."""

from __future__ import annotations

import argparse
import sys
from datetime import date

from orchestrator.archive.db import archive_url, open_engine
from orchestrator.config import load_restaurant
from orchestrator.reports import day, render
from orchestrator.settings import get_settings


def report_command(args: argparse.Namespace) -> int:
    try:
        which = date.fromisoformat(args.date).isoformat()
    except ValueError:
        print(f'error: --date: {args.date!r} is not a date like 2026-12-01', file=sys.stderr)
        return 2
    cfg = load_restaurant(args.config)
    engine = open_engine(args.archive_url or archive_url(get_settings()))
    try:
        report = day.build(engine, cfg, which)
    finally:
        engine.dispose()
    files = render.write(report, cfg.restaurant.name.en, args.out)
    demo = ' (includes DEMO data)' if report.demo else ''
    print(f'report for {which}{demo}: {len(files)} files in {args.out}', file=sys.stderr)
    return 0
