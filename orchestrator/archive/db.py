"""Opening the archive: the URL from the settings, the schema migrated to the latest revision.

`ROBODINE_ARCHIVE_URL` names any SQLAlchemy URL (`postgresql+psycopg://user:pw@host/db` for a
chain or a managed database); unset, the archive is the SQLite file `archive.sqlite` under the
data dir (`ROBODINE_DATA_DIR`), in WAL mode so that reports read while the archiver writes.
"""

from __future__ import annotations

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


def archive_url(settings: Settings) -> str:
    if settings.archive_url:
        return settings.archive_url
    return f'sqlite:///{(settings.data_dir / "archive.sqlite").resolve()}'


def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL: readers never block the archiver; FULL: a committed batch survives a power cut.
    cur.execute('PRAGMA journal_mode=WAL')
    cur.execute('PRAGMA synchronous=FULL')
    cur.execute('PRAGMA busy_timeout=10000')
    cur.close()


def open_engine(url: str) -> Engine:
    """An engine on the archive, migrated to the latest schema."""
    if url.startswith('sqlite:///'):
        Path(url.removeprefix('sqlite:///')).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True, pool_pre_ping=True)
    if engine.dialect.name == 'sqlite':
        event.listen(engine, 'connect', _sqlite_pragmas)
    migrate(engine)
    return engine


def migrate(engine: Engine) -> None:
    """Alembic upgrade to head, on this engine's connection (idempotent)."""
    cfg = Config()
    cfg.set_main_option('script_location', str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes['connection'] = conn
        command.upgrade(cfg, 'head')


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
