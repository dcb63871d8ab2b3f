"""The archive in tests: a throwaway PostgreSQL cluster (Debian's `postgresql` binaries, started
with initdb / pg_ctl on a free port; as the `postgres` user when the tests run as root, which
PostgreSQL refuses) and a service day in Redis whose orders finish in every way."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from redis.asyncio import Redis

from orchestrator import ids
from orchestrator import redis_keys as keys
from orchestrator.config import RestaurantConfig
from orchestrator.redis_server import free_port
from orchestrator.store import deliveries, jobs, orders, trips
from orchestrator.store.trips import Stop
from tests.dispatch_support import ensure_groups, write_order


def _pg_bin() -> Path | None:
    found = sorted(glob.glob('/usr/lib/postgresql/*/bin/initdb'))
    return Path(found[-1]).parent if found else None


@contextmanager
def postgres_cluster() -> Iterator[str]:
    """A PostgreSQL server of its own; yields the base URL (database appended by the caller)."""
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip('PostgreSQL binaries missing (apt-get install postgresql)')
    run_as: dict[str, int] = {}
    if os.geteuid() == 0:
        try:
            pg = pwd.getpwnam('postgres')
        except KeyError:
            pytest.skip('running as root and there is no postgres user to run PostgreSQL as')
        run_as = {'user': pg.pw_uid, 'group': pg.pw_gid}
    root = Path(tempfile.mkdtemp(prefix='robodine-pg-'))
    root.chmod(0o755)
    data = root / 'data'
    data.mkdir()
    if run_as:
        os.chown(data, run_as['user'], run_as['group'])
    port = free_port()
    env = {**os.environ, 'LC_ALL': 'C.UTF-8'}

    def run(*argv: str) -> None:
        subprocess.run(
            argv,
            check=True,
            env=env,
            capture_output=True,
            **run_as,  # type: ignore[call-overload]
        )

    run(str(bindir / 'initdb'), '-D', str(data), '-U', 'robodine', '--auth=trust', '-E', 'UTF8')
    opts = f'-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=on'
    run(
        str(bindir / 'pg_ctl'), '-D', str(data), '-o', opts, '-l', str(data / 'log'), '-w', 'start'
    )
    try:
        yield f'postgresql+psycopg://robodine@127.0.0.1:{port}'
    finally:
        subprocess.run(
            [str(bindir / 'pg_ctl'), '-D', str(data), '-m', 'immediate', '-w', 'stop'],
            env=env,
            capture_output=True,
            check=False,
            **run_as,  # type: ignore[call-overload]
        )
        shutil.rmtree(root, ignore_errors=True)


def new_database(base_url: str, name: str) -> str:
    """A fresh, empty database on the cluster; its SQLAlchemy URL."""
    plain = base_url.replace('postgresql+psycopg://', 'postgresql://')
    with psycopg.connect(f'{plain}/postgres', autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS {name}')
        conn.execute(f'CREATE DATABASE {name}')
    return f'{base_url}/{name}'


async def serve(r: Redis, order_id: str) -> None:
    """The serving side for one ready order: a trip that takes it to the table and ends."""
    got = await r.xreadgroup(keys.DISPATCH_GROUP, 'd1', {deliveries.STREAM: '>'}, count=1000)
    entries = {f['order_id']: i for _, es in got for i, f in es}
    trip_id = ids.new_trip_id()

    def plan(taken: list[str]) -> list[Stop]:
        return [Stop('t01', (0,), tuple(taken), ('dish',))]

    assert await trips.create(r, trip_id, 'serve1', 'd1', 10, {order_id: entries[order_id]}, plan)
    assert await trips.record(r, trip_id, 1, [order_id], 'delivery.started', {}, orders.DELIVERING)
    assert await trips.record(r, trip_id, 1, [order_id], 'order.served', {}, orders.SERVED)
    assert await trips.finish(r, trip_id, 1, 'done')


async def service_day(r: Redis, cfg: RestaurantConfig, n: int) -> dict[str, list[str]]:
    """`n` orders: most cooked and served, every fifth cancelled (one dish while cooking: waste),
    the last two still open. Returns the order ids by how they ended."""
    await ensure_groups(r, cfg)
    # Hundreds of orders in a moment from 16 tables: beyond the per-table limits, off here.
    service = cfg.service.model_copy(update={'orders_per_minute': 0, 'dishes_per_session': 0})
    cfg = cfg.model_copy(update={'service': service})
    dishes = ['kungpao', 'fries', 'iced-tea', 'mochi', 'galbi']
    out: dict[str, list[str]] = {'served': [], 'cancelled': [], 'open': []}
    for k in range(n):
        table = cfg.tables[k % len(cfg.tables)].id
        order_id, job_ids = await write_order(
            r, cfg, table, [(dishes[k % 5], 1), (dishes[(k + 2) % 5], 2)]
        )
        if k >= n - 2:
            out['open'].append(order_id)
        elif k % 5 == 0:
            await r.hset(keys.job(job_ids[0]), mapping={'status': jobs.COOKING, 'robot': 'wok1'})
            for job_id in job_ids:
                await jobs.cancel(r, job_id, 'ana')
            out['cancelled'].append(order_id)
        else:
            for job_id in job_ids:
                await jobs.complete(r, job_id, None, 'ana')
            await serve(r, order_id)
            out['served'].append(order_id)
    return out
