"""`robodine retention`: trim finished records older than `retention_days` from Redis
(`store/retention.py`) and compact the robots' sqlite ledgers. `robodine up` runs it every
RUN_EVERY_S; a deployment runs the command from cron or a systemd timer.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import redis

from orchestrator.settings import get_settings
from orchestrator.store import connection, history, retention
from orchestrator.store.feed import now_ms
from robot_nodes.ledger import Ledger

RUN_EVERY_S = 3600.0


async def trim_redis(redis_url: str, days: float, now: int | None = None) -> retention.Trimmed:
    r = connection.connect(get_settings(), redis_url)
    try:
        # Never past what the archive holds (store/history.py, `rd:archive:upto`).
        cutoff = retention.cutoff_ms(now or now_ms(), days)
        return await retention.trim(r, await history.retention_cutoff(r, cutoff))
    finally:
        await r.aclose()


def compact_ledgers(ledger_dir: Path, days: float, now: float | None = None) -> int:
    """Final jobs older than `days` out of every robot ledger in `ledger_dir`; how many went.
    The robots may be running: sqlite locks the file for the moment of each write."""
    before = (now or time.time()) - days * 24 * 3600
    deleted = 0
    for path in sorted(ledger_dir.glob('*.sqlite')):
        ledger = Ledger(path)
        try:
            deleted += ledger.compact(before)
        finally:
            ledger.close()
    return deleted


def run(redis_url: str, days: float, ledger_dir: Path | None) -> str:
    """Trim Redis, then the ledgers; returns what was done, in one line."""
    said = asyncio.run(trim_redis(redis_url, days)).summary()
    if ledger_dir is not None and ledger_dir.is_dir():
        said += f'; {compact_ledgers(ledger_dir, days)} ledger rows'
    return f'{said} (older than {days:g} days)'


def retention_command(args: argparse.Namespace) -> int:
    if not args.days > 0:  # 0 or less would trim every finished record, today's included
        print(f'error: --days must be more than 0, not {args.days:g}', file=sys.stderr)
        return 2
    if args.ledger_dir is not None and not args.ledger_dir.is_dir():
        print(f'error: --ledger-dir {args.ledger_dir}: no such directory', file=sys.stderr)
        return 2
    try:
        print(run(args.redis_url, args.days, args.ledger_dir), file=sys.stderr)
    except redis.RedisError as e:
        where = connection.describe(get_settings(), args.redis_url)
        print(f'error: Redis at {where}: {e}', file=sys.stderr)
        return 1
    return 0
