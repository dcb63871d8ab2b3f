"""The archive on the real SQLite file and a real PostgreSQL: migrations, an idempotent copy of a
service day out of a real Redis, retention trimming only what was archived, and an archiver
SIGKILLed mid-batch that loses nothing and stores nothing twice."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from redis.asyncio import Redis
from sqlalchemy import Engine, func, select

from orchestrator import redis_keys as keys
from orchestrator.archive import schema
from orchestrator.archive.archiver import MARGIN_MS, Archiver
from orchestrator.archive.db import open_engine
from orchestrator.config import RestaurantConfig
from orchestrator.retention import trim_redis
from orchestrator.settings import DEFAULT_CONFIG
from orchestrator.store import audit, history, orders, retention, stock
from orchestrator.store.feed import now_ms
from tests.api_helpers import REPO, wait_until
from tests.archive_support import new_database, postgres_cluster, service_day


@pytest.fixture(scope='module')
def postgres() -> Iterator[str]:
    with postgres_cluster() as url:
        yield url


@pytest.fixture(params=['sqlite', 'postgresql'])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == 'sqlite':
        url = f'sqlite:///{tmp_path / "archive.sqlite"}'
    else:
        base = request.getfixturevalue('postgres')
        url = new_database(base, f'a{uuid.uuid4().hex[:12]}')
    e = open_engine(url)
    yield e
    e.dispose()


MIGRATE_AT = """
import sys, time
from orchestrator.archive.db import open_engine
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
open_engine(sys.argv[1]).dispose()
"""


@pytest.mark.parametrize('backend', ['sqlite', 'postgresql'])
def test_processes_starting_together_migrate_once_and_all_open_it(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """`up --api-workers N` starts N API processes at once on one archive: each migrates it as
    it opens it. They take turns: none fails (it would serve no report for its whole life)."""
    if backend == 'sqlite':
        url = f'sqlite:///{tmp_path / "archive.sqlite"}'
    else:
        url = new_database(request.getfixturevalue('postgres'), f'm{uuid.uuid4().hex[:12]}')
    at = str(time.time() + 3)  # all at once, once every interpreter has started
    procs = [
        subprocess.Popen(
            [sys.executable, '-c', MIGRATE_AT, url, at], cwd=REPO, stderr=subprocess.PIPE
        )
        for _ in range(6)
    ]
    errors = [p.communicate(timeout=120)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, '\n'.join(errors)
    engine = open_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), schema.metadata)
    engine.dispose()
    assert diff == []


def count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_the_migrated_schema_is_the_schema(engine: Engine) -> None:
    # open_engine migrated it; migrating again changes nothing.
    open_engine(str(engine.url.render_as_string(hide_password=False))).dispose()
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), schema.metadata)
    assert diff == []


async def test_a_service_day_is_copied_once_and_retention_trims_only_what_is_archived(
    engine: Engine, aredis: Redis, redis_url: str, demo_config: RestaurantConfig
) -> None:
    day = await service_day(aredis, demo_config, 30)
    await stock.restock(aredis, demo_config, 'chicken', 5000, 'ana', 'delivery')
    await audit.record(aredis, 'ana', 'dish.soldout', 'bingsu', 'ok')
    # No margin: the mark may come up to now (the default keeps a minute from it).
    archiver = Archiver(aredis, engine, demo_config, batch=7, margin_ms=0)
    first = await archiver.run_once()
    again = await archiver.run_once()  # the same records: stored once
    final = len(day['served']) + len(day['cancelled'])
    assert first.orders == final and again.orders == 0
    assert count(engine, schema.orders) == final
    with engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(select(schema.orders))}
        dishes = list(conn.execute(select(schema.dishes)))
        events = list(conn.execute(select(schema.menu_events)))
        moves = list(conn.execute(select(schema.stock_moves)))
    assert set(rows) == set(day['served']) | set(day['cancelled'])
    served = rows[day['served'][0]]
    assert served.status == 'served' and 0 < served.ready_at <= served.left_at <= served.served_at
    assert len(dishes) == 3 * final
    assert {d.status for d in dishes if d.order_id in day['cancelled']} == {'withdrawn', 'wasted'}
    assert count(engine, schema.trips) == len(day['served'])
    # Every movement in Redis is in the archive, once: sales, returns, waste, the restock.
    in_redis = {
        (i, ing)
        for i, f in await aredis.xrange(keys.STOCK_MOVES)
        for ing in stock.parse_move(i, f)[1].items
    }
    assert {(m.entry_id, m.ingredient) for m in moves if m.kind not in ('out', 'back')} == in_redis
    assert {m.kind for m in moves} >= {'sale', 'return', 'waste', 'restock'}
    assert [(e.dish_id, e.source, e.by) for e in events] == [('bingsu', 'operator', 'ana')]

    # The mark: everything before the oldest order still open.
    oldest_open = min(o.created_at for o in await orders.get_many(aredis, day['open']))
    assert await history.archived_up_to(aredis) == oldest_open
    far_future = now_ms() + 30 * retention.DAY_MS
    assert await history.retention_cutoff(aredis, far_future) == oldest_open
    # `robodine retention` a month later trims what the archive holds, nothing else.
    trimmed = await trim_redis(redis_url, 1, now=far_future)
    assert trimmed.orders == final
    left = await history.orders_since(aredis, [t.id for t in demo_config.tables], 0)
    assert sorted(left) == sorted(day['open'])
    # Redis forgot them; the archive did not (and copying again changes nothing).
    await archiver.run_once()
    assert count(engine, schema.orders) == final and count(engine, schema.dishes) == 3 * final


async def test_without_open_orders_the_mark_follows_the_clock(
    aredis: Redis, tmp_path: Path, demo_config: RestaurantConfig
) -> None:
    engine = open_engine(f'sqlite:///{tmp_path / "a.sqlite"}')
    before = now_ms()
    copied = await Archiver(aredis, engine, demo_config).run_once()
    assert before - MARGIN_MS <= copied.upto <= now_ms() - MARGIN_MS
    assert await history.archived_up_to(aredis) == copied.upto
    engine.dispose()


def test_sigkill_mid_batch_loses_nothing_and_stores_nothing_twice(
    redis_url: str, tmp_path: Path, demo_config: RestaurantConfig
) -> None:
    db = tmp_path / 'archive.sqlite'
    n = 400

    async def fill() -> dict[str, list[str]]:
        r = Redis.from_url(redis_url, decode_responses=True)
        try:
            return await service_day(r, demo_config, n)
        finally:
            await r.aclose()

    day = asyncio.run(fill())
    final = n - len(day['open'])
    engine = open_engine(f'sqlite:///{db}')
    cmd = [
        sys.executable, '-m', 'orchestrator.cli', 'archive', 'run',
        '--config', str(DEFAULT_CONFIG), '--redis-url', redis_url,
        '--archive-url', f'sqlite:///{db}', '--batch', '3',
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=REPO, env=os.environ.copy(), stderr=subprocess.PIPE)
    try:
        # Killed once some batches are in and others not yet.
        wait_until(lambda: count(engine, schema.orders) > 0, timeout=60, interval=0.002)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    partial = count(engine, schema.orders)
    assert 0 < partial < final, f'{partial} of {final}: the kill came too late to be mid-copy'

    async def finish() -> list[tuple[str, str]]:
        r = Redis.from_url(redis_url, decode_responses=True)
        try:
            await Archiver(r, engine, demo_config, batch=50).run_once()
            return [
                (i, ing)
                for i, f in await r.xrange(keys.STOCK_MOVES)
                for ing in stock.parse_move(i, f)[1].items
            ]
        finally:
            await r.aclose()

    in_redis = asyncio.run(finish())
    with engine.connect() as conn:
        order_ids = list(conn.execute(select(schema.orders.c.id)).scalars())
        job_ids = list(conn.execute(select(schema.dishes.c.job_id)).scalars())
        moves = list(
            conn.execute(select(schema.stock_moves.c.entry_id, schema.stock_moves.c.ingredient))
        )
    assert sorted(order_ids) == sorted(day['served'] + day['cancelled'])
    assert len(job_ids) == len(set(job_ids)) == 3 * final
    assert sorted((m.entry_id, m.ingredient) for m in moves) == sorted(in_redis)
    engine.dispose()


def test_archive_run_says_when_redis_is_away_and_every_keeps_going(tmp_path: Path) -> None:
    base = [sys.executable, '-m', 'orchestrator.cli', 'archive', 'run']
    base += ['--redis-url', 'redis://127.0.0.1:1/0']
    base += ['--archive-url', f'sqlite:///{tmp_path / "archive.sqlite"}']
    once = subprocess.run(base, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert once.returncode == 1, once.stderr
    assert once.stderr.startswith('error: archive pass failed (Redis at redis://127.0.0.1:1/0)')
    assert 'Traceback' not in once.stderr
    # A service copying every S seconds rides a Redis outage out: it tries again each round.
    err = tmp_path / 'every.err'
    with err.open('w') as out:
        proc = subprocess.Popen([*base, '--every', '0.2'], cwd=REPO, stderr=out)
        try:
            wait_until(lambda: err.read_text().count('archive pass failed') >= 3, timeout=30)
            assert proc.poll() is None, err.read_text()
        finally:
            proc.terminate()
            proc.wait(10)
    assert 'Traceback' not in err.read_text()
