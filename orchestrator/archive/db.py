"""Opening the archive: the URL from the settings, the schema migrated to the latest revision.

`ROBODINE_ARCHIVE_URL` names any SQLAlchemy URL (`postgresql+psycopg://user:pw@host/db` for a
chain or a managed database); unset, the archive is the SQLite file `archive.sqlite` under the
data dir (`ROBODINE_DATA_DIR`), in WAL mode so that reports read while the archiver writes.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, Table, create_engine, event, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from orchestrator.archive import schema
from orchestrator.settings import Settings

MIGRATIONS = Path(__file__).resolve().parent / 'migrations'
# How long an archive connection waits for another's write lock; a migration, for another's.
BUSY_TIMEOUT_MS = 10_000
MIGRATION_WAIT_MS = 120_000


def archive_url(settings: Settings) -> str:
    if settings.archive_url:
        return settings.archive_url
    return f'sqlite:///{(settings.data_dir / "archive.sqlite").resolve()}'


def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute(f'PRAGMA busy_timeout={BUSY_TIMEOUT_MS}')
    # WAL: readers never block the archiver; FULL: a committed batch survives a power cut.
    _wal(cur)
    cur.execute('PRAGMA synchronous=FULL')
    cur.close()


def _wal(cur: Any) -> None:
    """Switch to WAL mode. While another process switches a new file, SQLite answers "locked"
    at once, without waiting for busy_timeout: try again for as long."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cur.execute('PRAGMA journal_mode=WAL')
            return
        except sqlite3.OperationalError as e:
            if 'locked' not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def open_engine(url: str) -> Engine:
    """An engine on the archive, migrated to the latest schema."""
    if url.startswith('sqlite:///'):
        Path(url.removeprefix('sqlite:///')).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True, pool_pre_ping=True)
    if engine.dialect.name == 'sqlite':
        event.listen(engine, 'connect', _sqlite_pragmas)
    migrate(engine)
    return engine


# Any 64-bit number of our own: PostgreSQL's advisory lock that migrations take turns on.
MIGRATION_LOCK = 0x726F_626F_6469_6E65


def migrate(engine: Engine) -> None:
    """Alembic upgrade to head, on this engine's connection (idempotent), in one transaction
    that processes take in turn: `up --api-workers N` opens one archive from N processes at
    once, and two upgrading together both create the tables (one fails) or leave half a schema.
    """
    cfg = Config()
    cfg.set_main_option('script_location', str(MIGRATIONS))
    with engine.begin() as conn:
        if conn.dialect.name == 'sqlite':
            # pysqlite starts no transaction before DDL: this one holds the write lock and
            # rolls the whole upgrade back if it fails. The others wait their turn, longer than
            # for a write: six processes starting on a busy machine queue for seconds.
            conn.exec_driver_sql(f'PRAGMA busy_timeout={MIGRATION_WAIT_MS}')
            conn.exec_driver_sql('BEGIN EXCLUSIVE')
        elif conn.dialect.name == 'postgresql':
            conn.exec_driver_sql(f'SELECT pg_advisory_xact_lock({MIGRATION_LOCK})')
        cfg.attributes['connection'] = conn
        command.upgrade(cfg, 'head')
        if conn.dialect.name == 'sqlite':  # back in the pool, it waits as long as any other
            conn.exec_driver_sql(f'PRAGMA busy_timeout={BUSY_TIMEOUT_MS}')


def local_day_hour(ms: int) -> tuple[str, int]:
    """The local calendar day and hour of a time (the process's time zone, `TZ`)."""
    t = datetime.fromtimestamp(ms / 1000)
    return t.strftime('%Y-%m-%d'), t.hour


def local_time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000).strftime('%H:%M:%S')


def when(ms: int, demo: bool = False) -> dict[str, Any]:
    day, hour = local_day_hour(ms)
    return {'day': day, 'hour': hour, 'demo': demo}


def insert_rows(
    conn: Connection, table: Table, rows: Iterable[Mapping[str, Any]], update: bool = False
) -> None:
    """Insert rows keyed by the table's primary key: a row already there is left alone
    (`update`: overwritten), so copying the same record twice stores it once."""
    rows = list(rows)
    if not rows:
        return
    dialect = sqlite if conn.dialect.name == 'sqlite' else postgresql
    stmt = dialect.insert(table)
    keys = [c.name for c in table.primary_key.columns]
    if update:
        changed = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
        stmt = stmt.on_conflict_do_update(index_elements=keys, set_=changed)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=keys)
    conn.execute(stmt, rows)


def get_state(conn: Connection, name: str, default: str) -> str:
    value = conn.execute(
        select(schema.state.c.value).where(schema.state.c.name == name)
    ).scalar_one_or_none()
    return default if value is None else str(value)


def set_state(conn: Connection, name: str, value: str) -> None:
    insert_rows(conn, schema.state, [{'name': name, 'value': value}], update=True)
