"""Running the archive: inside the API process (every `archive_every_s`) or `robodine archive`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from orchestrator.archive import demo_history
from orchestrator.archive.archiver import Archiver
from orchestrator.archive.db import archive_url, open_engine
from orchestrator.config import RestaurantConfig, load_restaurant
from orchestrator.settings import Settings, get_settings
from orchestrator.store import connection
from orchestrator.tasks import cancel_requested, nap

log = logging.getLogger(__name__)


async def _loop(archiver: Archiver, every_s: float) -> None:
    # cancel_requested: redis-py may swallow the cancellation that stops the app (tasks.py).
    while not cancel_requested():
        try:
            copied = await archiver.run_once()
            log.debug(copied.summary())
        except Exception:  # Redis or the database away: try again next time, nothing is lost
            log.exception('archive pass failed; retrying in %.0f s', every_s)
        await nap(every_s)


@contextlib.asynccontextmanager
async def running(
    r: Redis, settings: Settings, cfg: RestaurantConfig
) -> AsyncIterator[Engine | None]:
    """The archive's engine (None if it cannot be opened: reports answer 503) and, unless
    `archive_every_s` is 0, the archiver copying into it."""
    try:
        engine = await asyncio.to_thread(open_engine, archive_url(settings))
    except Exception:
        log.exception('cannot open the archive; reports are unavailable')
        yield None
        return
    task = None
    if settings.archive_every_s > 0:
        archiver = Archiver(r, engine, cfg, keep_moves_days=settings.retention_days)
        task = asyncio.create_task(_loop(archiver, settings.archive_every_s))
    try:
        yield engine
    finally:
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        engine.dispose()


def seed_demo_history(settings: Settings, cfg: RestaurantConfig, weeks: int = 4) -> int:
    """`robodine up`: a fresh archive gets generated demo history (labelled); returns how many
    orders (0: the archive already had some)."""
    engine = open_engine(archive_url(settings))
    try:
        return demo_history.seed(engine, cfg, weeks=weeks)
    finally:
        engine.dispose()


@contextlib.asynccontextmanager
async def _archiver(
    settings: Settings, cfg: RestaurantConfig, redis_url: str | None, url: str, batch: int
) -> AsyncIterator[Archiver]:
    engine = open_engine(url)
    r = connection.connect(settings, redis_url)
    try:
        yield Archiver(r, engine, cfg, batch=batch, keep_moves_days=settings.retention_days)
    finally:
        await r.aclose()
        engine.dispose()


async def copy_once(settings: Settings, cfg: RestaurantConfig, redis_url: str) -> str:
    """One pass now, into the archive of `settings.data_dir` (`robodine rush` before it stops
    the restaurant, whose archiver looks only every `archive_every_s`); its summary."""
    async with _archiver(settings, cfg, redis_url, archive_url(settings), 200) as archiver:
        return (await archiver.run_once()).summary()


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    cfg = load_restaurant(args.config)
    url = args.archive_url or archive_url(settings)
    async with _archiver(settings, cfg, args.redis_url, url, args.batch) as archiver:
        while True:
            try:
                print((await archiver.run_once()).summary(), file=sys.stderr, flush=True)
            except (RedisError, SQLAlchemyError) as e:
                # Once: say so and fail (cron sees it); every S seconds: try again then.
                where = connection.describe(settings, args.redis_url)
                print(f'error: archive pass failed (Redis at {where}): {e}', file=sys.stderr)
                if args.every <= 0:
                    return 1
            if args.every <= 0:
                return 0
            await asyncio.sleep(args.every)


def archive_command(args: argparse.Namespace) -> int:
    settings = get_settings()
    if args.archive_command == 'run':
        return asyncio.run(_run(args, settings))
    cfg = load_restaurant(args.config)
    engine = open_engine(args.archive_url or archive_url(settings))
    try:
        n = demo_history.seed(engine, cfg, weeks=args.weeks, force=args.force)
    finally:
        engine.dispose()
    print(
        f'demo history: {n} generated orders (labelled demo) in the archive'
        if n
        else 'the archive already holds orders: no demo history added (--force adds it)',
        file=sys.stderr,
    )
    return 0
