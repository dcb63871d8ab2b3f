"""What the robots' ledgers keep in memory as jobs accumulate: SQLite's page cache of each
ledger, at robodine's size (`robot_nodes.ledger.CACHE_KIB`) against SQLite's default (2 MB a
connection), in the same run.

One child process per variant opens `--ledgers` ledgers (a robot host of `bench/scale.py` holds
15), records `--jobs` cook jobs round-robin as a cooking robot does (accepted, started, done with
a result) and reports its RSS at each fifth of the jobs and its time per job; this process
prints the growth over the last four fifths per 1,000 jobs for each, and the ratio. `--json`
prints one JSON object.

    .venv/bin/python bench/ledger_memory.py [--jobs 20000] [--ledgers 15] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.support import memory_mb  # noqa: E402
from robot_nodes import ledger  # noqa: E402

GOAL = {
    'order_id': 'o0123456789',
    'dish_id': 'kungpao',
    'station': 'wok',
    'options': ['mild'],
    'quantity': 1,
    'cook_time_s': 240.0,
}
VARIANTS = {'robodine': ledger.CACHE_KIB, 'sqlite default': 2000}


def record(jobs: int, ledgers: int, cache_kib: int) -> dict[str, object]:
    """(A child process.) RSS at each fifth of `jobs` recorded over `ledgers` ledgers, and the
    wall time a job took (three fsynced writes)."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix='robodine-bench-ledger-') as d:
        books = [ledger.Ledger(Path(d) / f'wok{i}.sqlite', cache_kib) for i in range(ledgers)]
        fifths = []
        for n in range(1, jobs + 1):
            book, job_id = books[n % ledgers], f'o{n:010d}-00-00'
            book.accept(job_id, 'cook', 1, {'job_id': job_id, **GOAL})
            book.start(job_id, 'prep')
            book.finish(job_id, ledger.DONE, {'outcome': 'cooked', 'reason': ''})
            if n % (jobs // 5) == 0:
                fifths.append(round(memory_mb(os.getpid(), 'VmRSS'), 2))
        for book in books:
            book.close()
    return {'fifths': fifths, 'us_per_job': round((time.perf_counter() - start) / jobs * 1e6)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--jobs', type=int, default=20000)
    p.add_argument('--ledgers', type=int, default=15)
    p.add_argument('--json', action='store_true', help='print one JSON object')
    p.add_argument('--child', type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.jobs < 5 or args.ledgers < 1:
        p.error('--jobs must be at least 5 and --ledgers at least 1')
    if args.child is not None:
        print(json.dumps(record(args.jobs, args.ledgers, args.child)))
        return
    fifths, us_per_job = {}, {}
    for name, kib in VARIANTS.items():
        child = ['--child', str(kib), '--jobs', str(args.jobs), '--ledgers', str(args.ledgers)]
        out = subprocess.run(
            [sys.executable, __file__, *child],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        child_result = json.loads(out)
        fifths[name], us_per_job[name] = child_result['fifths'], child_result['us_per_job']
    per_1000 = {
        name: round((v[-1] - v[0]) / (args.jobs * 4 / 5) * 1000, 3) for name, v in fifths.items()
    }
    base = per_1000['sqlite default']
    result = {
        'jobs': args.jobs,
        'ledgers': args.ledgers,
        'cache_kib': ledger.CACHE_KIB,
        'rss_mb_at_fifths': fifths,
        'growth_mb_per_1000_jobs': per_1000,
        'us_per_job': us_per_job,
        'robodine_to_default': round(per_1000['robodine'] / base, 3) if base > 0 else None,
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f'{args.jobs} cook jobs over {args.ledgers} ledgers, RSS growth over the last 4 fifths:')
    for name, v in fifths.items():
        print(
            f'  {name:15s} {per_1000[name]:.3f} MB per 1,000 jobs (RSS MB {v}), '
            f'{us_per_job[name]} us a job'
        )
    print(f'  robodine / default: {result["robodine_to_default"]}')


if __name__ == '__main__':
    main()
